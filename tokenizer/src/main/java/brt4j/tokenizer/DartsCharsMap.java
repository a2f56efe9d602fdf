package brt4j.tokenizer;

/**
 * The precompiled normalization charsmap of a SentencePiece model: a Darts-clone double-array trie over UTF-8 input
 * whose values are offsets of NUL-terminated replacement strings stored after it. Blob layout: a little-endian
 * uint32 trie size in bytes, the trie (uint32 units), then the replacement strings.
 *
 * <p>A model file can hold any bytes here, so every array access is checked and a broken charsmap behaves as one
 * without the broken rule rather than failing mid-encode.
 */
final class DartsCharsMap {
    private final int[] units;
    private final byte[] replacements;
    /** For each first byte, whether any rule can start with it; lets ASCII text skip the trie entirely. */
    private final boolean[] startsRule = new boolean[256];

    private DartsCharsMap(int[] units, byte[] replacements) {
        this.units = units;
        this.replacements = replacements;
        for (int b = 0; b < 256; b++) {
            int node = offset(unit(0)) ^ b;
            startsRule[b] = node < units.length && label(units[node]) == b;
        }
    }

    /** Decodes a precompiled_charsmap blob; {@code source} names the model in the error. */
    static DartsCharsMap decode(byte[] blob, String source) {
        if (blob.length < 4) throw invalid(source, "it is shorter than its 4-byte header");
        long trieBytes = (blob[0] & 0xFFL) | (blob[1] & 0xFFL) << 8 | (blob[2] & 0xFFL) << 16 | (blob[3] & 0xFFL) << 24;
        if (trieBytes > blob.length - 4 || trieBytes % 4 != 0 || trieBytes == 0) {
            throw invalid(source, "its trie size " + trieBytes + " does not fit the " + blob.length + " bytes");
        }
        int[] units = new int[(int) (trieBytes / 4)];
        for (int i = 0; i < units.length; i++) {
            int p = 4 + 4 * i;
            units[i] = (blob[p] & 0xFF) | (blob[p + 1] & 0xFF) << 8 | (blob[p + 2] & 0xFF) << 16 | (blob[p + 3] & 0xFF) << 24;
        }
        byte[] replacements = java.util.Arrays.copyOfRange(blob, 4 + (int) trieBytes, blob.length);
        return new DartsCharsMap(units, replacements);
    }

    private static ModelFormatException invalid(String source, String why) {
        return new ModelFormatException(source + ": normalizer_spec.precompiled_charsmap is invalid: " + why + ".");
    }

    boolean mayStartRule(byte b) {
        return startsRule[b & 0xFF];
    }

    /**
     * The longest rule that matches a prefix of {@code key[from, to)}, packed as
     * {@code (matchedLength << 32) | replacementOffset}, or 0 when no rule matches.
     */
    long longestMatch(byte[] key, int from, int to) {
        int node = offset(unit(0));
        long best = 0;
        for (int i = from; i < to; i++) {
            int b = key[i] & 0xFF;
            node ^= b;
            if (node < 0 || node >= units.length) return best;
            int u = units[node];
            if (label(u) != b) return best;
            node ^= offset(u);
            if (hasLeaf(u)) {
                if (node < 0 || node >= units.length) return best;
                int value = units[node] & 0x7FFFFFFF;
                if (value < replacements.length) best = (long) (i + 1 - from) << 32 | value;
            }
        }
        return best;
    }

    /** The length of the NUL-terminated replacement string at {@code offset}. */
    int replacementLength(int offset) {
        int end = offset;
        while (end < replacements.length && replacements[end] != 0) end++;
        return end - offset;
    }

    byte[] replacements() {
        return replacements;
    }

    private int unit(int index) {
        return index < units.length ? units[index] : 0;
    }

    private static boolean hasLeaf(int unit) {
        return ((unit >>> 8) & 1) == 1;
    }

    /** The label, with bit 31 kept so that value units never match a byte. */
    private static int label(int unit) {
        return unit & (0x80000000 | 0xFF);
    }

    private static int offset(int unit) {
        return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
    }
}
