package brt4j.tokenizer;

/**
 * SentencePiece's normalizer, step for step: user-defined symbols are copied untouched; otherwise the longest
 * charsmap rule rewrites a prefix, or one UTF-8 character is copied (a malformed byte becomes U+FFFD); leading,
 * trailing and repeated spaces are dropped when {@code remove_extra_whitespaces}; spaces become U+2581 when
 * {@code escape_whitespaces}; and U+2581 is put in front (or, with {@code treat_whitespace_as_suffix}, at the end)
 * when {@code add_dummy_prefix}.
 *
 * <p>Only the normalized bytes are produced: the alignment back to the input that SentencePiece also builds is not
 * needed for ids, pieces or decoding. Thread-safe: it holds no mutable state.
 */
final class Normalizer {
    private final DartsCharsMap charsMap; // null for the identity rule
    private final PieceTrie userDefined;  // null when the model has no user-defined pieces
    private final boolean addDummyPrefix, removeExtraWhitespaces, escapeWhitespaces, whitespaceAsSuffix;
    /** For each byte, whether it can be copied as it is: ASCII that starts no rule and no user-defined piece. */
    private final boolean[] plainByte = new boolean[256];

    Normalizer(NormalizerSpec spec, TrainerSpec trainer, PieceTrie userDefined, String source) {
        this.charsMap = spec.precompiledCharsmap.length == 0 ? null : DartsCharsMap.decode(spec.precompiledCharsmap, source);
        this.userDefined = userDefined;
        this.addDummyPrefix = spec.addDummyPrefix;
        this.removeExtraWhitespaces = spec.removeExtraWhitespaces;
        this.escapeWhitespaces = spec.escapeWhitespaces;
        this.whitespaceAsSuffix = trainer.treatWhitespaceAsSuffix;
        for (int b = 0; b < 128; b++) {
            plainByte[b] = (charsMap == null || !charsMap.mayStartRule((byte) b))
                    && (userDefined == null || !userDefined.hasEdge((byte) b));
        }
    }

    /** Normalizes {@code input[from, to)} into {@code out} (cleared first). */
    void normalize(byte[] input, int from, int to, ByteSink out) {
        out.clear();
        int pos = from;
        Prefix p = new Prefix();
        if (removeExtraWhitespaces) {
            while (pos < to) {
                normalizePrefix(input, pos, to, p);
                if (!p.isSingleSpace()) break;
                pos += p.consumed;
            }
        }
        if (pos >= to) return;
        if (!whitespaceAsSuffix && addDummyPrefix) addSpace(out);

        boolean previousWasSpace = removeExtraWhitespaces;
        while (pos < to) {
            byte first = input[pos];
            if (plainByte[first & 0xFF]) {
                // The common case, inlined: one ASCII byte that maps to itself.
                pos++;
                if (first == ' ') {
                    if (!previousWasSpace || !removeExtraWhitespaces) addSpace(out);
                    previousWasSpace = removeExtraWhitespaces;
                } else {
                    out.add(first);
                    previousWasSpace = false;
                }
                continue;
            }
            normalizePrefix(input, pos, to, p);
            byte[] src = p.src;
            int start = p.start, end = start + p.length;
            if (previousWasSpace && removeExtraWhitespaces) {
                while (start < end && src[start] == ' ') start++;
            }
            if (start < end) {
                for (int i = start; i < end; i++) {
                    if (escapeWhitespaces && src[i] == ' ') addSpace(out);
                    else out.add(src[i]);
                }
                previousWasSpace = src[end - 1] == ' ';
            }
            pos += p.consumed;
            if (!removeExtraWhitespaces) previousWasSpace = false;
        }

        if (removeExtraWhitespaces) {
            byte[] space = escapeWhitespaces ? Utf8.SPACE_SYMBOL : SPACE;
            while (out.endsWith(space)) out.length -= space.length;
        }
        if (whitespaceAsSuffix && addDummyPrefix) addSpace(out);
    }

    private static final byte[] SPACE = {' '};

    private void addSpace(ByteSink out) {
        if (escapeWhitespaces) out.add(Utf8.SPACE_SYMBOL, 0, 3);
        else out.add((byte) ' ');
    }

    /** What a prefix of the input normalizes to: bytes {@code src[start, start+length)}, using {@code consumed} input bytes. */
    private static final class Prefix {
        byte[] src;
        int start, length, consumed;

        boolean isSingleSpace() {
            return length == 1 && src[start] == ' ';
        }
    }

    /** SentencePiece's NormalizePrefix: what the input at {@code pos} becomes and how many bytes it uses. */
    private void normalizePrefix(byte[] input, int pos, int to, Prefix p) {
        if (userDefined != null) {
            int matched = userDefined.longestPrefix(input, pos, to);
            if (matched > 0) {
                set(p, input, pos, matched, matched);
                return;
            }
        }
        if (charsMap != null) {
            long match = charsMap.longestMatch(input, pos, to);
            if (match != 0) {
                int offset = (int) match;
                set(p, charsMap.replacements(), offset, charsMap.replacementLength(offset), (int) (match >>> 32));
                return;
            }
        }
        int length = Utf8.validCharLength(input, pos, to);
        if (length < 0) set(p, Utf8.REPLACEMENT, 0, 3, 1);
        else set(p, input, pos, length, length);
    }

    private static void set(Prefix p, byte[] src, int start, int length, int consumed) {
        p.src = src;
        p.start = start;
        p.length = length;
        p.consumed = consumed;
    }
}
