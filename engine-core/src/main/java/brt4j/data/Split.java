package brt4j.data;

import brt4j.backend.CounterRng;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * The train/validation split, by document: each non-empty document gets a score from (seed, hash of its name); the
 * lowest {@code round(fraction * n)} scores (at least one when there are two documents or more and fraction > 0) are
 * validation. Deterministic in the seed, independent of the order the documents were read in, and a document keeps
 * its side when others are added (mostly: the cut moves with n).
 */
public record Split(int[] train, int[] validation) {

    public static Split of(TokenSource src, double fraction, long seed) {
        if (!(fraction >= 0 && fraction < 1)) throw new IllegalArgumentException("validation fraction must be in [0, 1), got " + fraction);
        List<Integer> docs = new ArrayList<>();
        for (int d = 0; d < src.docCount(); d++) if (src.length(d) > 0) docs.add(d);
        int n = docs.size();
        int nVal = (int) Math.round(fraction * n);
        if (fraction > 0 && n >= 2) nVal = Math.max(1, nVal);
        if (nVal >= n && n > 0) nVal = n - 1;
        long[] score = new long[src.docCount()];
        for (int d : docs) score[d] = CounterRng.mix(src.nameHash(d) ^ CounterRng.mix(seed + 0x5eed));
        docs.sort(Comparator.<Integer>comparingLong(d -> score[d]).thenComparingInt(d -> d));
        int[] val = docs.subList(0, nVal).stream().mapToInt(Integer::intValue).sorted().toArray();
        int[] train = docs.subList(nVal, n).stream().mapToInt(Integer::intValue).sorted().toArray();
        return new Split(train, val);
    }

    /** All non-empty documents, in order (evaluation of a whole held-out corpus). */
    public static int[] all(TokenSource src) {
        int[] all = new int[src.docCount()];
        int k = 0;
        for (int d = 0; d < all.length; d++) if (src.length(d) > 0) all[k++] = d;
        return Arrays.copyOf(all, k);
    }

    /**
     * How many of {@code docs} hold a token to predict: two tokens or more. A one-token document has no target (the
     * loss counts a position only when its next token lies in the same document), so a corpus of them trains on
     * nothing and evaluates to 0 / 0.
     */
    public static int predictable(TokenSource src, int[] docs) {
        int k = 0;
        for (int d : docs) if (src.length(d) >= 2) k++;
        return k;
    }

    /** A 64-bit FNV-1a hash of a document name, mixed. */
    public static long hash(String name) {
        long h = 0xcbf29ce484222325L;
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return CounterRng.mix(h);
    }
}
