package brt4j.tokenizer;

/**
 * Which strings may become pieces, after SentencePiece's TrainerInterface::IsValidSentencePiece: not too long, no
 * rare-character mark, NUL, tab or raw space; U+2581 only at the start (at the end for treat_whitespace_as_suffix;
 * also inside when split_by_whitespace is off; alone when whitespace-only pieces are allowed); one Unicode script
 * per piece when split_by_unicode_script (Hiragana and Katakana count as Han); digits alone with split_digits.
 * Scripts come from Java's Unicode tables, which may differ from SentencePiece's in corners; that changes what is
 * learnt, never whether a model loads or encodes identically.
 */
final class PieceValidity {
    private final TrainerSpec spec;

    PieceValidity(TrainerSpec spec) {
        this.spec = spec;
    }

    boolean isValid(int[] cps, int from, int to) {
        int n = to - from;
        if (n <= 0 || n > spec.maxSentencepieceLength) return false;
        boolean allSpace = true;
        for (int i = from; i < to; i++) allSpace &= cps[i] == TrainingText.SPACE_CHAR;
        Character.UnicodeScript previous = null;
        for (int i = from; i < to; i++) {
            int c = cps[i], pos = i - from;
            if (c == TrainingText.UNKNOWN_CHAR || c == 0 || c == '\t' || c == ' ') return false;
            if (c == TrainingText.SPACE_CHAR) {
                if (!spec.allowWhitespaceOnlyPieces || !allSpace) {
                    if (spec.treatWhitespaceAsSuffix) {
                        if (spec.splitByWhitespace ? pos < n - 1 : pos < n - 1 && pos == 0) return false;
                    } else {
                        if (spec.splitByWhitespace ? pos > 0 : pos > 0 && pos == n - 1) return false;
                    }
                }
                continue;
            }
            boolean digit = c >= '0' && c <= '9';
            if (spec.splitDigits && digit && n > 1) return false;
            Character.UnicodeScript script = Character.UnicodeScript.of(c);
            if (script == Character.UnicodeScript.HIRAGANA || script == Character.UnicodeScript.KATAKANA || c == 0x30FC) {
                script = Character.UnicodeScript.HAN;
            }
            if (!spec.splitByNumber && digit) script = null; // matches any script
            if (spec.splitByUnicodeScript && script != null && previous != null && previous != script) return false;
            previous = script;
        }
        return true;
    }
}
