package brt4j.tokenizer;

import org.eclipse.collections.api.iterator.LongIterator;
import org.eclipse.collections.impl.list.mutable.primitive.IntArrayList;
import org.eclipse.collections.impl.map.mutable.primitive.LongByteHashMap;
import org.eclipse.collections.impl.map.mutable.primitive.LongLongHashMap;
import org.eclipse.collections.impl.map.mutable.primitive.LongObjectHashMap;
import org.eclipse.collections.impl.set.mutable.primitive.LongHashSet;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Learns BPE merges the way SentencePiece's BPE trainer does: every distinct word starts as its characters (a
 * character outside the coverage never merges), and the most frequent adjacent pair whose concatenation may be a
 * piece ({@link PieceValidity}) is merged, again and again, until the vocabulary is full. The n-th merge gets score
 * -n, so encoding applies merges in the order they were learnt; the required characters follow with lower scores.
 *
 * <p>Pair counts are kept up to date incrementally: a merge rewrites only the words that hold the pair, found
 * through a per-pair list of word indices; a max-heap with lazy deletion finds the next pair.
 */
final class BpeTrainer {
    private final TrainerSpec spec;
    private final TrainingText text;
    private final ProgressBar bar;
    private final int metaPieces;
    private final PieceValidity validity;

    private final List<int[]> symbolChars = new ArrayList<>();
    private final LongLongHashMap pairCounts = new LongLongHashMap();
    private final LongObjectHashMap<IntArrayList> pairWords = new LongObjectHashMap<>();
    private final LongByteHashMap pairValid = new LongByteHashMap(); // 1 valid, 2 not, 0 not yet known
    private final LongHashSet changed = new LongHashSet();
    private final PriorityQueue<long[]> heap = new PriorityQueue<>((a, b) ->
            a[0] != b[0] ? Long.compare(b[0], a[0]) : Long.compare(a[1], b[1]));
    private int[][] words;
    private int[] lengths;

    BpeTrainer(TrainerSpec spec, TrainingText text, int metaPieces, ProgressBar bar) {
        this.spec = spec;
        this.text = text;
        this.metaPieces = metaPieces;
        this.bar = bar;
        this.validity = new PieceValidity(spec);
    }

    List<Piece> train() {
        Map<Integer, Integer> charSymbol = new HashMap<>();
        for (int c : text.requiredChars) {
            charSymbol.put(c, symbolChars.size());
            symbolChars.add(new int[]{c});
        }
        words = new int[text.words.length][];
        lengths = new int[words.length];
        for (int w = 0; w < words.length; w++) {
            int[] cps = text.words[w].codePoints().toArray();
            int[] seq = new int[cps.length];
            for (int i = 0; i < cps.length; i++) seq[i] = charSymbol.getOrDefault(cps[i], -1);
            words[w] = seq;
            lengths[w] = seq.length;
            addPairs(w);
        }
        changed.clear();
        pairCounts.forEachKeyValue((key, count) -> heap.add(new long[]{count, key}));

        int merges = spec.vocabSize - metaPieces - text.requiredChars.length;
        List<Piece> result = new ArrayList<>();
        int[] visited = new int[words.length];
        while (result.size() < merges) {
            long[] top = heap.poll();
            if (top == null) break;
            long key = top[1];
            long current = pairCounts.get(key);
            if (current != top[0] || current <= 0) continue; // stale
            int a = (int) (key >>> 32), b = (int) key;
            int merged = symbolChars.size();
            int[] ca = symbolChars.get(a), cb = symbolChars.get(b);
            int[] chars = new int[ca.length + cb.length];
            System.arraycopy(ca, 0, chars, 0, ca.length);
            System.arraycopy(cb, 0, chars, ca.length, cb.length);
            symbolChars.add(chars);
            result.add(new Piece(new String(chars, 0, chars.length), -result.size(), PieceType.NORMAL));
            IntArrayList holders = pairWords.remove(key);
            for (int h = 0; h < holders.size(); h++) {
                int w = holders.get(h);
                if (visited[w] == merged) continue;
                visited[w] = merged;
                if (!contains(w, a, b)) continue;
                removePairs(w);
                replace(w, a, b, merged);
                addPairs(w);
            }
            pushChanged();
            if ((result.size() & 63) == 0) bar.update("bpe merges", (double) result.size() / merges, result.size() + " of " + merges);
        }
        if (result.size() < merges) {
            throw new IllegalArgumentException("Vocabulary size " + spec.vocabSize + " is too large for this text: only "
                    + (result.size() + text.requiredChars.length + metaPieces) + " pieces can be formed; use a smaller vocabulary size.");
        }
        int base = result.size();
        for (int k = 0; k < text.requiredChars.length; k++) {
            result.add(new Piece(new String(Character.toChars(text.requiredChars[k])), -(base + k), PieceType.NORMAL));
        }
        bar.update("bpe merges", 1, merges + " merges");
        return result;
    }

    private void pushChanged() {
        LongIterator it = changed.longIterator();
        while (it.hasNext()) {
            long key = it.next();
            long c = pairCounts.get(key);
            if (c > 0) heap.add(new long[]{c, key});
            else pairCounts.remove(key);
        }
        changed.clear();
    }

    private boolean contains(int w, int a, int b) {
        int[] seq = words[w];
        for (int i = 0; i + 1 < lengths[w]; i++) if (seq[i] == a && seq[i + 1] == b) return true;
        return false;
    }

    private void replace(int w, int a, int b, int merged) {
        int[] seq = words[w];
        int out = 0;
        for (int i = 0; i < lengths[w]; i++) {
            if (i + 1 < lengths[w] && seq[i] == a && seq[i + 1] == b) {
                seq[out++] = merged;
                i++;
            } else {
                seq[out++] = seq[i];
            }
        }
        lengths[w] = out;
    }

    private void addPairs(int w) {
        count(w, +1);
    }

    private void removePairs(int w) {
        count(w, -1);
    }

    private void count(int w, int sign) {
        int[] seq = words[w];
        long weight = sign * text.counts[w];
        for (int i = 0; i + 1 < lengths[w]; i++) {
            int a = seq[i], b = seq[i + 1];
            if (a < 0 || b < 0) continue;
            long key = (long) a << 32 | (b & 0xFFFFFFFFL);
            if (!isMergeable(key, a, b)) continue;
            pairCounts.addToValue(key, weight);
            if (sign > 0) pairWords.getIfAbsentPut(key, IntArrayList::new).add(w);
            changed.add(key);
        }
    }

    private boolean isMergeable(long key, int a, int b) {
        byte known = pairValid.get(key);
        if (known == 0) {
            int[] ca = symbolChars.get(a), cb = symbolChars.get(b);
            int[] joined = new int[ca.length + cb.length];
            System.arraycopy(ca, 0, joined, 0, ca.length);
            System.arraycopy(cb, 0, joined, ca.length, cb.length);
            known = validity.isValid(joined, 0, joined.length) ? (byte) 1 : (byte) 2;
            pairValid.put(key, known);
        }
        return known == 1;
    }
}
