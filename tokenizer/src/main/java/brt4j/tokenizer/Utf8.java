package brt4j.tokenizer;

/** UTF-8 rules exactly as SentencePiece's string_util applies them, on byte arrays. */
final class Utf8 {
    private Utf8() {
    }

    /** U+FFFD, which replaces each byte of malformed input. */
    static final byte[] REPLACEMENT = {(byte) 0xEF, (byte) 0xBF, (byte) 0xBD};
    /** U+2581, the visible stand-in for a space inside pieces. */
    static final byte[] SPACE_SYMBOL = {(byte) 0xE2, (byte) 0x96, (byte) 0x81};

    /** The length a lead byte announces (1 for stray continuation bytes), as SentencePiece's OneCharLen. */
    static int oneCharLength(byte lead) {
        int hi = (lead & 0xFF) >>> 4;
        return hi < 12 ? 1 : hi < 14 ? 2 : hi == 14 ? 3 : 4;
    }

    /**
     * The length of the well-formed character at {@code from}, or -1 if the bytes there are malformed (a stray or
     * truncated sequence, an overlong form, a surrogate, or a code point past U+10FFFF).
     */
    static int validCharLength(byte[] s, int from, int to) {
        int b0 = s[from] & 0xFF;
        int len = to - from;
        if (b0 < 0x80) return 1;
        if (len >= 2 && (b0 & 0xE0) == 0xC0) {
            int cp = (b0 & 0x1F) << 6 | (s[from + 1] & 0x3F);
            if (isTrail(s[from + 1]) && cp >= 0x80) return 2;
        } else if (len >= 3 && (b0 & 0xF0) == 0xE0) {
            int cp = (b0 & 0x0F) << 12 | (s[from + 1] & 0x3F) << 6 | (s[from + 2] & 0x3F);
            if (isTrail(s[from + 1]) && isTrail(s[from + 2]) && cp >= 0x800 && isValidCodePoint(cp)) return 3;
        } else if (len >= 4 && (b0 & 0xF8) == 0xF0) {
            int cp = (b0 & 0x07) << 18 | (s[from + 1] & 0x3F) << 12 | (s[from + 2] & 0x3F) << 6 | (s[from + 3] & 0x3F);
            if (isTrail(s[from + 1]) && isTrail(s[from + 2]) && isTrail(s[from + 3]) && cp >= 0x10000
                    && isValidCodePoint(cp)) return 4;
        }
        return -1;
    }

    private static boolean isTrail(byte b) {
        return (b & 0xC0) == 0x80;
    }

    private static boolean isValidCodePoint(int cp) {
        return cp < 0xD800 || (cp >= 0xE000 && cp <= 0x10FFFF);
    }

    static boolean startsWith(byte[] s, int from, int to, byte[] prefix) {
        if (to - from < prefix.length) return false;
        for (int i = 0; i < prefix.length; i++) if (s[from + i] != prefix[i]) return false;
        return true;
    }
}
