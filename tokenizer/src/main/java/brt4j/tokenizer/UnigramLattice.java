package brt4j.tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * The lattice of one training word over the current training vocabulary: every piece that matches at every
 * character position, plus an unknown edge where no one-character piece does. Used by the unigram trainer for
 * the E-step (forward-backward) and for Viterbi. One instance per thread, reused across words.
 */
final class UnigramLattice {
    private final PieceTrie trie;
    private final double[] scores;
    private final double unknownScore;
    int charCount;
    int edgeCount;
    int[] edgeFrom = new int[256], edgeTo = new int[256], edgeId = new int[256];
    double[] alpha = new double[64], beta = new double[64];
    private int[] charOfByteEnd = new int[256];

    UnigramLattice(PieceTrie trie, double[] scores, double unknownScore) {
        this.trie = trie;
        this.scores = scores;
        this.unknownScore = unknownScore;
    }

    double score(int edge) {
        int id = edgeId[edge];
        return id < 0 ? unknownScore : scores[id];
    }

    /** Fills the edges for a word given as UTF-8 with the byte offset of each character boundary. */
    void build(byte[] utf8, int[] charStarts, int chars) {
        charCount = chars;
        edgeCount = 0;
        if (charOfByteEnd.length < utf8.length + 1) charOfByteEnd = new int[utf8.length * 2 + 1];
        for (int c = 0; c <= chars; c++) charOfByteEnd[charStarts[c]] = c;
        for (int c = 0; c < chars; c++) {
            boolean single = false;
            int node = PieceTrie.ROOT;
            int from = charStarts[c];
            for (int b = from; b < utf8.length; b++) {
                node = trie.step(node, utf8[b]);
                if (node == PieceTrie.NONE) break;
                int id = trie.value(node);
                if (id < 0) continue;
                int to = charOfByteEnd[b + 1];
                addEdge(c, to, id);
                if (to == c + 1) single = true;
            }
            if (!single) addEdge(c, c + 1, -1);
        }
    }

    private void addEdge(int from, int to, int id) {
        if (edgeCount == edgeFrom.length) {
            edgeFrom = java.util.Arrays.copyOf(edgeFrom, edgeCount * 2);
            edgeTo = java.util.Arrays.copyOf(edgeTo, edgeCount * 2);
            edgeId = java.util.Arrays.copyOf(edgeId, edgeCount * 2);
        }
        edgeFrom[edgeCount] = from;
        edgeTo[edgeCount] = to;
        edgeId[edgeCount++] = id;
    }

    /** Forward-backward: adds {@code weight * P(edge)} to {@code expected} per piece; returns log Z. */
    double expectedCounts(double weight, double[] expected) {
        ensurePositions();
        java.util.Arrays.fill(alpha, 0, charCount + 1, Double.NEGATIVE_INFINITY);
        java.util.Arrays.fill(beta, 0, charCount + 1, Double.NEGATIVE_INFINITY);
        alpha[0] = 0;
        for (int e = 0; e < edgeCount; e++) { // edges come in order of their start
            alpha[edgeTo[e]] = logAdd(alpha[edgeTo[e]], alpha[edgeFrom[e]] + score(e));
        }
        beta[charCount] = 0;
        for (int e = edgeCount - 1; e >= 0; e--) {
            beta[edgeFrom[e]] = logAdd(beta[edgeFrom[e]], score(e) + beta[edgeTo[e]]);
        }
        double z = alpha[charCount];
        for (int e = 0; e < edgeCount; e++) {
            int id = edgeId[e];
            if (id >= 0) expected[id] += weight * Math.exp(alpha[edgeFrom[e]] + score(e) + beta[edgeTo[e]] - z);
        }
        return z;
    }

    /**
     * The best path's edges, written to {@code path} (start to end); returns their count. With {@code excludedId}
     * >= 0, a whole-word edge with that id is not allowed (the second best path of a piece's own text).
     */
    int viterbi(int[] path, int excludedId) {
        ensurePositions();
        java.util.Arrays.fill(alpha, 0, charCount + 1, Double.NEGATIVE_INFINITY);
        int[] bestEdge = edgeBest;
        alpha[0] = 0;
        for (int e = 0; e < edgeCount; e++) {
            if (edgeId[e] == excludedId && edgeFrom[e] == 0 && edgeTo[e] == charCount) continue;
            double s = alpha[edgeFrom[e]] + score(e);
            if (s > alpha[edgeTo[e]]) {
                alpha[edgeTo[e]] = s;
                bestEdge[edgeTo[e]] = e;
            }
        }
        if (alpha[charCount] == Double.NEGATIVE_INFINITY) return 0;
        int count = 0;
        for (int pos = charCount; pos > 0; pos = edgeFrom[bestEdge[pos]]) path[count++] = bestEdge[pos];
        for (int i = 0, j = count - 1; i < j; i++, j--) {
            int t = path[i];
            path[i] = path[j];
            path[j] = t;
        }
        return count;
    }

    private int[] edgeBest = new int[64];

    private void ensurePositions() {
        if (alpha.length < charCount + 1) {
            alpha = new double[charCount * 2 + 1];
            beta = new double[charCount * 2 + 1];
            edgeBest = new int[charCount * 2 + 1];
        }
        if (edgeBest.length < charCount + 1) edgeBest = new int[charCount * 2 + 1];
    }

    private static double logAdd(double a, double b) {
        if (a == Double.NEGATIVE_INFINITY) return b;
        if (b == Double.NEGATIVE_INFINITY) return a;
        double max = Math.max(a, b), min = Math.min(a, b);
        return max + Math.log1p(Math.exp(min - max));
    }

    /** UTF-8 bytes of a word and the byte offset of each character boundary (length = chars + 1). */
    record Word(byte[] utf8, int[] charStarts, int chars) {
        static Word of(String text) {
            byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
            int chars = text.codePointCount(0, text.length());
            int[] starts = new int[chars + 1];
            for (int b = 0, c = 0; b < utf8.length; c++) {
                starts[c] = b;
                b += Utf8.oneCharLength(utf8[b]);
            }
            starts[chars] = utf8.length;
            return new Word(utf8, starts, chars);
        }
    }
}
