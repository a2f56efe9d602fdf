package brt4j.tokenizer;

/**
 * Unigram segmentation: the Viterbi path over the piece scores, as SentencePiece's optimized encoder computes it
 * (unigram_model.cc, EncodeOptimized), including its arithmetic, so that near-ties break the same way:
 * <ul>
 *   <li>path scores are stored as float, but a piece's candidate is summed in double (the C++ expression mixes a
 *       double constant in), while the unknown-character candidate is summed in float;</li>
 *   <li>a later candidate replaces the stored one only when strictly better, and candidates arrive by start
 *       position, then by length;</li>
 *   <li>a user-defined piece scores {@code length * maxNormalScore - 0.1} so it always wins; unused pieces are
 *       skipped; a character no piece of one character covers gets the unknown id with
 *       {@code minNormalScore - 10}.</li>
 * </ul>
 */
final class UnigramSegmenter implements Segmenter {
    private static final byte NORMAL = 0, USER_DEFINED = 1, UNUSED = 2;

    private final PieceTrie trie;
    private final float[] scores;
    private final byte[] kinds;
    private final float maxNormalScore;
    private final float unknownScore;
    private final int unknownId;

    UnigramSegmenter(Vocabulary vocabulary) {
        this.trie = vocabulary.segmentationTrie;
        this.scores = vocabulary.scores;
        this.kinds = new byte[vocabulary.size];
        for (int id = 0; id < vocabulary.size; id++) {
            kinds[id] = switch (vocabulary.types[id]) {
                case USER_DEFINED -> USER_DEFINED;
                case UNUSED -> UNUSED;
                default -> NORMAL;
            };
        }
        this.maxNormalScore = vocabulary.maxNormalScore;
        this.unknownScore = vocabulary.minNormalScore - 10.0f;
        this.unknownId = vocabulary.unknownId;
    }

    @Override
    public void segment(byte[] s, int n, EncoderScratch scratch, Segmentation out) {
        out.clear();
        scratch.ensureLattice(n + 1);
        float[] best = scratch.bestScore;
        int[] startOf = scratch.bestStart;
        int[] idOf = scratch.bestId;
        java.util.Arrays.fill(startOf, 0, n + 1, -1);
        best[0] = 0;
        int start = 0;
        while (start < n) {
            float here = best[start];
            int charLength = Math.min(Utf8.oneCharLength(s[start]), n - start);
            boolean coveredByOneChar = false;
            int node = PieceTrie.ROOT;
            for (int k = start; k < n; k++) {
                node = trie.step(node, s[k]);
                if (node == PieceTrie.NONE) break;
                int id = trie.value(node);
                if (id < 0) continue;
                byte kind = kinds[id];
                if (kind == UNUSED) continue;
                int end = k + 1, length = end - start;
                double score = kind == USER_DEFINED ? (double) ((float) length * maxNormalScore) - 0.1 : scores[id];
                double candidate = score + here;
                if (startOf[end] == -1 || candidate > best[end]) {
                    best[end] = (float) candidate;
                    startOf[end] = start;
                    idOf[end] = id;
                }
                if (length == charLength) coveredByOneChar = true;
            }
            if (!coveredByOneChar) {
                int end = start + charLength;
                float candidate = unknownScore + here;
                if (startOf[end] == -1 || candidate > best[end]) {
                    best[end] = candidate;
                    startOf[end] = start;
                    idOf[end] = unknownId;
                }
            }
            start += charLength;
        }
        // Backtrack from the end, then reverse in place.
        for (int end = n; end > 0; end = startOf[end]) out.add(startOf[end], end, idOf[end]);
        reverse(out.starts);
        reverse(out.ends);
        reverse(out.ids);
    }

    private static void reverse(IntSink a) {
        for (int i = 0, j = a.length - 1; i < j; i++, j--) {
            int t = a.data[i];
            a.data[i] = a.data[j];
            a.data[j] = t;
        }
    }
}
