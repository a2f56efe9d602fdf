package brt4j.tokenizer;

import java.util.Arrays;

/**
 * A per-thread memo of BPE results per word: word bytes to (id, piece end) pairs. Open addressing over a power-of-two
 * table with keys and values in flat pools, so a hit allocates nothing. When a pool fills up everything is dropped
 * and filling starts again, which bounds memory at a few megabytes per thread.
 */
final class WordCache {
    static final int MAX_WORD_BYTES = 64;
    private static final int SLOTS = 1 << 16; // at most half of them used before a reset
    private final int[] slotHash = new int[SLOTS];
    private final int[] slotEntry = new int[SLOTS]; // entry index + 1; 0 marks an empty slot
    private int entries;
    private final int[] keyStart = new int[SLOTS / 2], keyLength = new int[SLOTS / 2];
    private final int[] valueStart = new int[SLOTS / 2], valueCount = new int[SLOTS / 2];
    private byte[] keys = new byte[SLOTS * 8];
    private int keysUsed;
    private int[] values = new int[SLOTS * 8]; // pairs: id, end offset relative to the word start
    private int valuesUsed;

    static int hash(byte[] s, int from, int to) {
        int h = 0x811C9DC5;
        for (int i = from; i < to; i++) h = (h ^ s[i]) * 0x01000193;
        return h ^ (h >>> 16);
    }

    /** The entry for {@code s[from, to)} with hash {@code h}, or -1. */
    int find(byte[] s, int from, int to, int h) {
        int mask = SLOTS - 1;
        for (int slot = h & mask; ; slot = (slot + 1) & mask) {
            int e = slotEntry[slot] - 1;
            if (e < 0) return -1;
            if (slotHash[slot] == h && keyLength[e] == to - from
                    && Arrays.equals(keys, keyStart[e], keyStart[e] + keyLength[e], s, from, to)) return e;
        }
    }

    /** Appends entry {@code e}'s pieces, shifted to start at {@code wordStart}, to {@code out}. */
    void appendTo(int e, int wordStart, Segmentation out) {
        int v = valueStart[e], end = v + 2 * valueCount[e];
        int pieceStart = wordStart;
        for (; v < end; v += 2) {
            int pieceEnd = wordStart + values[v + 1];
            out.add(pieceStart, pieceEnd, values[v]);
            pieceStart = pieceEnd;
        }
    }

    /** Remembers that {@code s[from, to)} segments into {@code out}'s pieces from index {@code firstPiece} on. */
    void put(byte[] s, int from, int to, int h, Segmentation out, int firstPiece) {
        int count = out.size() - firstPiece;
        if (entries == SLOTS / 2 || keysUsed + (to - from) > keys.length || valuesUsed + 2 * count > values.length) clear();
        if (2 * count > values.length || to - from > keys.length) return;
        int e = entries++;
        keyStart[e] = keysUsed;
        keyLength[e] = to - from;
        System.arraycopy(s, from, keys, keysUsed, to - from);
        keysUsed += to - from;
        valueStart[e] = valuesUsed;
        valueCount[e] = count;
        for (int k = firstPiece; k < out.size(); k++) {
            values[valuesUsed++] = out.ids.data[k];
            values[valuesUsed++] = out.ends.data[k] - from;
        }
        int mask = SLOTS - 1;
        int slot = h & mask;
        while (slotEntry[slot] != 0) slot = (slot + 1) & mask;
        slotHash[slot] = h;
        slotEntry[slot] = e + 1;
    }

    private void clear() {
        Arrays.fill(slotEntry, 0);
        entries = 0;
        keysUsed = 0;
        valuesUsed = 0;
    }
}
