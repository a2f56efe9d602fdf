package brt4j.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Text the tests make themselves: pseudo-English prose from a seeded generator (with numbers, accents, Greek, CJK
 * and emoji mixed in) for training, and the edge cases the issue lists for comparison.
 */
final class TestCorpus {
    private TestCorpus() {
    }

    private static final String[] SYLLABLES = {"the", "an", "re", "in", "er", "on", "at", "en", "nd", "ti", "es", "or",
            "te", "of", "ed", "is", "it", "al", "ar", "st", "to", "nt", "ng", "se", "ha", "as", "ou", "io", "le", "ve",
            "co", "me", "de", "hi", "ri", "ro", "ic", "ne", "ea", "ra", "ce", "li", "ch", "ll", "be", "ma", "si", "om",
            "ur", "ca", "el", "ta", "la", "ns", "di", "fo", "ho", "pe", "ec", "pr", "no", "ct", "us", "ac", "ot", "il",
            "tr", "ly", "nc", "et", "ut", "ss", "so", "rs", "un", "lo", "wa", "ge", "ie", "wh", "ee", "wi", "em", "ad"};
    private static final String[] FOREIGN = {"café", "naïve", "Straße", "ελληνικά", "日本語", "中文字符", "한국어", "😀",
            "🎉", "ﬁne", "ＡＢＣ", "½", "e\u0301", "год", "עברית", "العربية", "हिन्दी", "x²", "Ⅻ", "ǅ"};

    /** About {@code bytes} bytes of prose, lines of 1 to 30 words. */
    static String prose(long seed, int bytes) {
        Random r = new Random(seed);
        StringBuilder sb = new StringBuilder(bytes + 200);
        while (sb.length() < bytes) {
            int words = 1 + r.nextInt(30);
            for (int w = 0; w < words; w++) {
                if (w > 0) sb.append(' ');
                int kind = r.nextInt(100);
                if (kind < 3) sb.append(FOREIGN[r.nextInt(FOREIGN.length)]);
                else if (kind < 6) sb.append(r.nextInt(kind < 4 ? 100 : 100000));
                else {
                    int syllables = 1 + Math.min(r.nextInt(4), r.nextInt(4));
                    StringBuilder word = new StringBuilder();
                    for (int k = 0; k < syllables; k++) word.append(SYLLABLES[(int) Math.abs(r.nextGaussian() * 20) % SYLLABLES.length]);
                    if (r.nextInt(10) == 0) word.setCharAt(0, Character.toUpperCase(word.charAt(0)));
                    sb.append(word);
                }
                if (r.nextInt(12) == 0) sb.append(r.nextBoolean() ? ',' : '.');
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    /** One line per edge case, each ending in '\n', as raw bytes (some lines are malformed UTF-8). */
    static byte[] edgeCases() {
        List<String> lines = new ArrayList<>(List.of(
                "", " ", "  ", "\t", "   leading and trailing   ", "multiple     spaces\there", "tab\tseparated\tvalues",
                "combining e\u0301 a\u0300 n\u0303 e\u0301\u0301 \u0301start", "CJK 日本語のテキスト 中文字符 한국어",
                "emoji 😀🎉👍🏽 👨‍👩‍👧 flags 🇯🇵", "control \u0001\u0002\u0007 chars \u001b[0m \u007f \u0085 end",
                "fullwidth ＡＢＣ１２３ ｶﾀｶﾅ", "ligature ﬁ ﬂ ㍿ ½ ① ™", "▁already▁escaped ▁▁ ▁", "\u3000ideographic\u3000space",
                "nbsp\u00a0here\u2009thin\u2028sep", "zero\u200bwidth\u200djoiner\ufeffbom", "Straße GROSS ǅ ﬃ İstanbul",
                "mixed123numbers456 and 7.89e10 and 2024-01-02", "\r carriage\r return\r", "a", "x".repeat(60),
                "ÀÉÎÕÜ àéîõü", "Ωμέγα ελληνικά", "עברית العربية", "हिन्दी தமிழ்", "\u0000nul\u0000", "private \uE000\uF8FF",
                "rare \uD83E\uDDFF \u2603 \u0FFF \uDB40\uDC01 \uFFFD", "<s> </s> <unk> <0x41> literal markup",
                "the of and to in the of and to", "123 4567 89012 3.14159"));
        Random r = new Random(7);
        String pool = "abcdefgxyz ABCXYZ  \t.,;!?0123456789éèçñüöäßøåæœ日本語中文한국어😀🎉ﬁＡ１½\u0301\u3000\u00a0▁";
        int[] cps = pool.codePoints().toArray();
        for (int i = 0; i < 150; i++) {
            StringBuilder sb = new StringBuilder();
            int n = r.nextInt(60);
            for (int k = 0; k < n; k++) sb.appendCodePoint(cps[r.nextInt(cps.length)]);
            lines.add(sb.toString());
        }
        lines.add(prose(3, 100_000).replace('\n', ' ').substring(0, 100_000));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (String line : lines) {
            out.writeBytes(line.getBytes(StandardCharsets.UTF_8));
            out.write('\n');
        }
        // Malformed UTF-8: stray, truncated, surrogate, overlong and out-of-range sequences.
        out.writeBytes(new byte[]{'b', 'a', 'd', ' ', (byte) 0xFF, (byte) 0xFE, ' ', (byte) 0xC3, ' ', (byte) 0xE6,
                (byte) 0x97, ' ', 'e', 'n', 'd', '\n'});
        out.writeBytes(new byte[]{(byte) 0xED, (byte) 0xA0, (byte) 0x80, ' ', (byte) 0xC0, (byte) 0xAF, ' ',
                (byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80, '\n'});
        out.writeBytes(new byte[]{(byte) 0x80, (byte) 0x80, 'x', (byte) 0xF0, (byte) 0x9F, (byte) 0x98, '\n'});
        return out.toByteArray();
    }
}
