package brt4j.tokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The training text as the trainers see it, prepared the way SentencePiece's trainer does: each line normalized
 * with the model's own normalizer (user-defined symbols kept whole), lines longer than max_sentence_length bytes
 * skipped, optionally a random sample of input_sentence_size lines, characters outside the character_coverage
 * share replaced by U+2047, and the lines cut into words at U+2581 (before it, or after it for
 * treat_whitespace_as_suffix), with identical words counted once. User-defined symbols are cut out of the words:
 * they are in the vocabulary already.
 */
final class TrainingText {
    /** Stands for a character too rare to get its own piece; no piece may contain it. */
    static final int UNKNOWN_CHAR = 0x2047;
    static final int SPACE_CHAR = 0x2581;

    final String[] words;
    final long[] counts;
    /** Characters that must be pieces, most frequent first, and how often each occurs. */
    final int[] requiredChars;
    final long[] requiredCharCounts;

    private TrainingText(String[] words, long[] counts, int[] requiredChars, long[] requiredCharCounts) {
        this.words = words;
        this.counts = counts;
        this.requiredChars = requiredChars;
        this.requiredCharCounts = requiredCharCounts;
    }

    static TrainingText load(List<Path> inputs, TrainerSpec spec, NormalizerSpec normalization, ProgressBar bar)
            throws IOException {
        PieceTrie userDefined = userDefinedTrie(spec.userDefinedSymbols);
        Normalizer normalizer = new Normalizer(normalization, spec, userDefined, "the normalization rule");
        long totalBytes = 0;
        for (Path p : inputs) {
            if (!Files.isRegularFile(p)) throw new IllegalArgumentException("Training input " + p + " does not exist or is not a file.");
            totalBytes += Files.size(p);
        }
        List<String> sentences = new ArrayList<>();
        Random sampler = new Random(42);
        long seen = 0, readBytes = 0;
        ByteSink normalized = new ByteSink(4096);
        for (Path p : inputs) {
            try (InputStream in = Files.newInputStream(p)) {
                LineReader lines = new LineReader(in, 1 << 16);
                while (lines.next()) {
                    readBytes += lines.length() + 1;
                    if (lines.length() == 0 || lines.length() > spec.maxSentenceLength) continue;
                    normalizer.normalize(lines.buffer(), lines.start(), lines.start() + lines.length(), normalized);
                    if (normalized.length == 0) continue;
                    String sentence = new String(normalized.data, 0, normalized.length, StandardCharsets.UTF_8);
                    seen++;
                    if (spec.inputSentenceSize <= 0 || sentences.size() < spec.inputSentenceSize) {
                        sentences.add(sentence);
                    } else {
                        long slot = (long) (sampler.nextDouble() * seen);
                        if (slot < spec.inputSentenceSize) sentences.set((int) slot, sentence);
                    }
                    if ((seen & 1023) == 0) bar.update("reading", (double) readBytes / Math.max(1, totalBytes), sentences.size() + " lines");
                }
            }
        }
        bar.update("reading", 1, sentences.size() + " lines");
        if (sentences.isEmpty()) throw new IllegalArgumentException("The training input " + inputs + " has no usable lines.");

        // Distinct words first (user-defined symbols cut out), so characters are counted once per distinct word.
        Map<String, long[]> rawWords = new HashMap<>();
        for (String sentence : sentences) {
            for (String w : splitIntoWords(sentence, spec, userDefined)) rawWords.computeIfAbsent(w, k -> new long[1])[0]++;
        }
        sentences.clear();
        long[] charCounts = new long[Character.MAX_CODE_POINT + 1];
        long allChars = 0;
        for (Map.Entry<String, long[]> e : rawWords.entrySet()) {
            String w = e.getKey();
            long n = e.getValue()[0];
            for (int i = 0; i < w.length(); ) {
                int c = w.codePointAt(i);
                charCounts[c] += n;
                allChars += n;
                i += Character.charCount(c);
            }
        }
        // Characters by falling count (then code point); keep them until character_coverage of all is covered.
        int distinct = 0;
        for (long c : charCounts) if (c > 0) distinct++;
        Integer[] order = new Integer[distinct];
        for (int c = 0, k = 0; c < charCounts.length; c++) if (charCounts[c] > 0) order[k++] = c;
        Arrays.sort(order, (a, b) -> charCounts[a] != charCounts[b] ? Long.compare(charCounts[b], charCounts[a]) : Integer.compare(a, b));
        List<Integer> required = new ArrayList<>();
        long accumulated = 0;
        for (int c : order) {
            if (spec.characterCoverage < 1 && (double) accumulated / allChars >= spec.characterCoverage) break;
            accumulated += charCounts[c];
            if (c == UNKNOWN_CHAR || c == '\t' || c == ' ' || c == 0) continue; // NUL cannot be a key in SentencePiece's trie
            required.add(c);
        }
        boolean[] isRequired = new boolean[Character.MAX_CODE_POINT + 1];
        int[] requiredChars = new int[required.size()];
        long[] requiredCounts = new long[required.size()];
        for (int k = 0; k < required.size(); k++) {
            requiredChars[k] = required.get(k);
            requiredCounts[k] = charCounts[required.get(k)];
            isRequired[required.get(k)] = true;
        }

        // Rare characters become U+2047; words that become equal are counted together.
        Map<String, long[]> wordCounts = new HashMap<>();
        StringBuilder cleaned = new StringBuilder();
        for (Map.Entry<String, long[]> e : rawWords.entrySet()) {
            String w = e.getKey();
            cleaned.setLength(0);
            for (int i = 0; i < w.length(); ) {
                int c = w.codePointAt(i);
                cleaned.appendCodePoint(isRequired[c] ? c : UNKNOWN_CHAR);
                i += Character.charCount(c);
            }
            wordCounts.computeIfAbsent(cleaned.toString(), k -> new long[1])[0] += e.getValue()[0];
        }
        String[] words = new String[wordCounts.size()];
        long[] counts = new long[wordCounts.size()];
        int k = 0;
        for (Map.Entry<String, long[]> e : wordCounts.entrySet()) {
            words[k] = e.getKey();
            counts[k++] = e.getValue()[0];
        }
        // A fixed order, so training does not depend on hash iteration order.
        Integer[] byText = new Integer[words.length];
        for (int i = 0; i < byText.length; i++) byText[i] = i;
        Arrays.sort(byText, (a, b) -> words[a].compareTo(words[b]));
        String[] sortedWords = new String[words.length];
        long[] sortedCounts = new long[words.length];
        for (int i = 0; i < byText.length; i++) {
            sortedWords[i] = words[byText[i]];
            sortedCounts[i] = counts[byText[i]];
        }
        return new TrainingText(sortedWords, sortedCounts, requiredChars, requiredCounts);
    }

    static PieceTrie userDefinedTrie(List<String> symbols) {
        if (symbols.isEmpty()) return null;
        byte[][] keys = new byte[symbols.size()][];
        int[] ids = new int[symbols.size()];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = symbols.get(i).getBytes(StandardCharsets.UTF_8);
            ids[i] = i;
        }
        return PieceTrie.build(keys, ids);
    }

    /**
     * Cuts a normalized line into the units pieces are learnt from, as SentencePiece's SplitIntoWords, after
     * removing user-defined symbols. Without split_by_whitespace the whole line is one unit.
     */
    static List<String> splitIntoWords(String text, TrainerSpec spec, PieceTrie userDefined) {
        List<String> out = new ArrayList<>();
        List<String> parts = new ArrayList<>();
        if (userDefined == null) {
            parts.add(text);
        } else {
            byte[] b = text.getBytes(StandardCharsets.UTF_8);
            int partStart = 0;
            for (int i = 0; i < b.length; ) {
                int m = userDefined.longestPrefix(b, i, b.length);
                if (m > 0) {
                    if (i > partStart) parts.add(new String(b, partStart, i - partStart, StandardCharsets.UTF_8));
                    i += m;
                    partStart = i;
                } else {
                    i += Math.min(Utf8.oneCharLength(b[i]), b.length - i);
                }
            }
            if (partStart < b.length) parts.add(new String(b, partStart, b.length - partStart, StandardCharsets.UTF_8));
        }
        for (String part : parts) {
            if (!spec.splitByWhitespace) {
                out.add(part);
                continue;
            }
            int wordStart = 0;
            boolean inSpaceRun = false;
            for (int i = 0; i < part.length(); ) {
                int c = part.codePointAt(i);
                boolean space = c == SPACE_CHAR;
                if (spec.treatWhitespaceAsSuffix) {
                    // A word ends after its U+2581 (after a run of them when whitespace-only pieces are allowed).
                    i += Character.charCount(c);
                    boolean nextIsSpace = i < part.length() && part.codePointAt(i) == SPACE_CHAR;
                    if (space && !(spec.allowWhitespaceOnlyPieces && nextIsSpace)) {
                        out.add(part.substring(wordStart, i));
                        wordStart = i;
                    }
                    continue;
                }
                if (i > 0 && space && (!inSpaceRun || !spec.allowWhitespaceOnlyPieces)) {
                    out.add(part.substring(wordStart, i));
                    wordStart = i;
                }
                if (space) inSpaceRun = true;
                else inSpaceRun = false;
                i += Character.charCount(c);
            }
            if (wordStart < part.length()) out.add(part.substring(wordStart));
        }
        return out;
    }
}
