package brt4j.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.function.IntConsumer;

/**
 * Learns a unigram vocabulary the way SentencePiece's unigram trainer does (Kudo 2018):
 * <ol>
 *   <li>seed: every required character, plus the substrings that may be pieces, by frequency times length
 *       (SentencePiece finds its candidates with a suffix array; counting the substrings of distinct words up to
 *       max_sentencepiece_length gives the same candidates that occur at least twice);</li>
 *   <li>EM: expected piece counts by forward-backward over each distinct word, then new log-probabilities with
 *       the digamma (Bayesian) update, dropping pieces expected less than half a time;</li>
 *   <li>prune: remove the pieces whose loss of likelihood, if their occurrences were re-segmented with the rest,
 *       is smallest, keeping shrinking_factor of them, until 1.1 times the vocabulary size is left;</li>
 *   <li>finish: the required characters, then the best pieces by score up to the vocabulary size.</li>
 * </ol>
 * Deterministic for a given input: work is split over threads, but sums are combined in a fixed order.
 */
final class UnigramTrainer {
    private static final double EXPECTED_FREQUENCY_THRESHOLD = 0.5;

    private final TrainerSpec spec;
    private final TrainingText text;
    private final ProgressBar bar;
    private final ExecutorService pool;
    private final int threads;
    private final int metaPieces;
    private final UnigramLattice.Word[] words;
    private final PieceValidity validity;

    private String[] pieces;
    private double[] scores;

    UnigramTrainer(TrainerSpec spec, TrainingText text, int metaPieces, ExecutorService pool, int threads, ProgressBar bar) {
        this.spec = spec;
        this.text = text;
        this.metaPieces = metaPieces;
        this.pool = pool;
        this.threads = threads;
        this.bar = bar;
        this.validity = new PieceValidity(spec);
        this.words = new UnigramLattice.Word[text.words.length];
        for (int i = 0; i < words.length; i++) words[i] = UnigramLattice.Word.of(text.words[i]);
    }

    /** The learnt pieces (normal type), best score first. */
    List<Piece> train() {
        seed();
        int desired = (int) (spec.vocabSize * 1.1);
        int startSize = pieces.length;
        while (true) {
            for (int iter = 0; iter < spec.numSubIterations; iter++) {
                double[] expected = eStep();
                mStep(expected);
                double done = startSize <= desired ? 1 : Math.log((double) startSize / pieces.length) / Math.log((double) startSize / desired);
                bar.update("unigram EM", Math.min(0.99, done), pieces.length + " pieces, target " + desired);
            }
            if (pieces.length <= desired) break;
            prune(desired);
        }
        List<Piece> result = finish();
        bar.update("unigram EM", 1, result.size() + " pieces");
        return result;
    }

    private void seed() {
        Map<String, long[]> substrings = new HashMap<>();
        int max = spec.maxSentencepieceLength;
        for (int w = 0; w < words.length; w++) {
            int[] cps = text.words[w].codePoints().toArray();
            long count = text.counts[w];
            for (int i = 0; i < cps.length; i++) {
                for (int j = i + 2; j <= Math.min(cps.length, i + max); j++) {
                    int c = cps[j - 1];
                    if (c == TrainingText.UNKNOWN_CHAR) break;
                    if (!validity.isValid(cps, i, j)) continue;
                    substrings.computeIfAbsent(new String(cps, i, j - i), k -> new long[1])[0] += count;
                }
            }
            if ((w & 4095) == 0) bar.update("unigram seeds", (double) w / words.length, substrings.size() + " substrings");
        }
        List<Map.Entry<String, long[]>> candidates = new ArrayList<>();
        for (Map.Entry<String, long[]> e : substrings.entrySet()) if (e.getValue()[0] >= 2) candidates.add(e);
        candidates.sort((a, b) -> {
            long sa = a.getValue()[0] * a.getKey().codePointCount(0, a.getKey().length());
            long sb = b.getValue()[0] * b.getKey().codePointCount(0, b.getKey().length());
            return sa != sb ? Long.compare(sb, sa) : a.getKey().compareTo(b.getKey());
        });
        int seedSize = Math.max(spec.seedSentencepieceSize, text.requiredChars.length);
        List<String> seedPieces = new ArrayList<>();
        List<Double> seedScores = new ArrayList<>();
        for (int k = 0; k < text.requiredChars.length; k++) {
            seedPieces.add(new String(Character.toChars(text.requiredChars[k])));
            seedScores.add((double) text.requiredCharCounts[k]);
        }
        for (Map.Entry<String, long[]> e : candidates) {
            if (seedPieces.size() >= seedSize) break;
            seedPieces.add(e.getKey());
            seedScores.add((double) e.getValue()[0] * e.getKey().codePointCount(0, e.getKey().length()));
        }
        pieces = seedPieces.toArray(new String[0]);
        scores = new double[pieces.length];
        double sum = 0;
        for (double s : seedScores) sum += s;
        double logSum = Math.log(sum);
        for (int i = 0; i < pieces.length; i++) scores[i] = Math.log(seedScores.get(i)) - logSum;
        bar.update("unigram seeds", 1, pieces.length + " seed pieces");
    }

    private PieceTrie trie() {
        byte[][] keys = new byte[pieces.length][];
        int[] ids = new int[pieces.length];
        for (int i = 0; i < pieces.length; i++) {
            keys[i] = pieces[i].getBytes(StandardCharsets.UTF_8);
            ids[i] = i;
        }
        return PieceTrie.build(keys, ids);
    }

    private double minScore() {
        double min = Double.MAX_VALUE;
        for (double s : scores) min = Math.min(min, s);
        return min;
    }

    /** Runs {@code body} for every word index, split into one contiguous range per thread. */
    private void forEachWordInParallel(int parts, java.util.function.BiConsumer<Integer, int[]> body) {
        List<Future<?>> futures = new ArrayList<>();
        for (int t = 0; t < parts; t++) {
            int from = (int) ((long) words.length * t / parts), to = (int) ((long) words.length * (t + 1) / parts);
            int part = t;
            futures.add(pool.submit(() -> body.accept(part, new int[]{from, to})));
        }
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (Exception e) {
                throw new IllegalStateException("Training failed: " + e.getCause(), e.getCause());
            }
        }
    }

    private double[] eStep() {
        PieceTrie trie = trie();
        double unknownScore = minScore() - 10;
        double[][] partial = new double[threads][];
        forEachWordInParallel(threads, (part, range) -> {
            UnigramLattice lattice = new UnigramLattice(trie, scores, unknownScore);
            double[] expected = new double[pieces.length];
            for (int w = range[0]; w < range[1]; w++) {
                UnigramLattice.Word word = words[w];
                lattice.build(word.utf8(), word.charStarts(), word.chars());
                lattice.expectedCounts(text.counts[w], expected);
            }
            partial[part] = expected;
        });
        double[] expected = partial[0];
        for (int t = 1; t < threads; t++) for (int i = 0; i < expected.length; i++) expected[i] += partial[t][i];
        return expected;
    }

    private void mStep(double[] expected) {
        List<String> kept = new ArrayList<>();
        List<Double> frequencies = new ArrayList<>();
        double sum = 0;
        for (int i = 0; i < pieces.length; i++) {
            if (expected[i] < EXPECTED_FREQUENCY_THRESHOLD) continue;
            kept.add(pieces[i]);
            frequencies.add(expected[i]);
            sum += expected[i];
        }
        double logSum = digamma(sum);
        pieces = kept.toArray(new String[0]);
        scores = new double[pieces.length];
        for (int i = 0; i < pieces.length; i++) scores[i] = digamma(frequencies.get(i)) - logSum;
    }

    private void prune(int desired) {
        PieceTrie trie = trie();
        double unknownScore = minScore() - 10;
        int n = pieces.length;
        // How each piece would be segmented without itself (its second-best path).
        boolean[] alwaysKeep = new boolean[n];
        int[][] alternatives = new int[n][];
        forEachWordInParallel(threads, (part, ignored) -> {
            UnigramLattice lattice = new UnigramLattice(trie, scores, unknownScore);
            int[] path = new int[spec.maxSentencepieceLength + 2];
            int from = (int) ((long) n * part / threads), to = (int) ((long) n * (part + 1) / threads);
            for (int i = from; i < to; i++) {
                UnigramLattice.Word w = UnigramLattice.Word.of(pieces[i]);
                lattice.build(w.utf8(), w.charStarts(), w.chars());
                int best = lattice.viterbi(path, -1);
                if (best >= 2) {
                    alwaysKeep[i] = false; // already split by the model: safe to drop
                    continue;
                }
                alwaysKeep[i] = true;
                int second = lattice.viterbi(path, i);
                if (second == 0) continue; // no alternative: keep
                int[] alt = new int[second];
                for (int k = 0; k < second; k++) alt[k] = lattice.edgeId[path[k]];
                alternatives[i] = alt;
            }
        });
        // Viterbi frequencies of every piece over the whole text.
        double[][] partial = new double[threads][];
        forEachWordInParallel(threads, (part, range) -> {
            UnigramLattice lattice = new UnigramLattice(trie, scores, unknownScore);
            double[] freq = new double[n];
            int[] path = new int[64];
            for (int w = range[0]; w < range[1]; w++) {
                UnigramLattice.Word word = words[w];
                if (path.length < word.chars() + 1) path = new int[word.chars() * 2 + 1];
                lattice.build(word.utf8(), word.charStarts(), word.chars());
                int count = lattice.viterbi(path, -1);
                for (int k = 0; k < count; k++) {
                    int id = lattice.edgeId[path[k]];
                    if (id >= 0) freq[id] += text.counts[w];
                }
            }
            partial[part] = freq;
        });
        double[] freq = partial[0];
        for (int t = 1; t < threads; t++) for (int i = 0; i < n; i++) freq[i] += partial[t][i];
        double sum = 0, wordSum = 0;
        for (double f : freq) sum += f;
        for (long c : text.counts) wordSum += c;
        double logSum = Math.log(sum);

        List<Integer> kept = new ArrayList<>();
        List<double[]> candidates = new ArrayList<>(); // {loss, index}
        for (int i = 0; i < n; i++) {
            if (freq[i] == 0 || !alwaysKeep[i]) continue;
            if (alternatives[i] == null) {
                kept.add(i);
                continue;
            }
            double share = freq[i] / wordSum;
            double logProbPiece = Math.log(freq[i]) - logSum;
            double logSumAlt = Math.log(sum + freq[i] * (alternatives[i].length - 1));
            double logProbAlt = 0;
            for (int a : alternatives[i]) logProbAlt += Math.log((a >= 0 ? freq[a] : 0) + freq[i]) - logSumAlt;
            candidates.add(new double[]{share * (logProbPiece - logProbAlt), i});
        }
        candidates.sort((a, b) -> a[0] != b[0] ? Double.compare(b[0], a[0]) : Double.compare(a[1], b[1]));
        int prunedSize = Math.max(desired, (int) (spec.shrinkingFactor * n));
        for (double[] c : candidates) {
            if (kept.size() >= prunedSize) break;
            kept.add((int) c[1]);
        }
        kept.sort(null);
        String[] newPieces = new String[kept.size()];
        double[] newScores = new double[kept.size()];
        for (int k = 0; k < kept.size(); k++) {
            newPieces[k] = pieces[kept.get(k)];
            newScores[k] = scores[kept.get(k)];
        }
        pieces = newPieces;
        scores = newScores;
    }

    private List<Piece> finish() {
        Map<String, Double> chosen = new HashMap<>();
        Map<String, Double> current = new HashMap<>();
        for (int i = 0; i < pieces.length; i++) current.put(pieces[i], scores[i]);
        double minScore = minScore(), penalty = 0;
        for (int c : text.requiredChars) {
            String s = new String(Character.toChars(c));
            Double score = current.get(s);
            if (score != null) {
                chosen.put(s, score);
            } else {
                // Rarer characters get slightly lower scores so no two tie.
                chosen.put(s, minScore + penalty);
                penalty -= 0.0001;
            }
        }
        int room = spec.vocabSize - metaPieces;
        Integer[] order = new Integer[pieces.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> scores[a] != scores[b] ? Double.compare(scores[b], scores[a]) : pieces[a].compareTo(pieces[b]));
        for (int i : order) {
            if (chosen.size() >= room) break;
            chosen.putIfAbsent(pieces[i], scores[i]);
        }
        List<Piece> result = new ArrayList<>();
        for (Map.Entry<String, Double> e : chosen.entrySet()) {
            result.add(new Piece(e.getKey(), (float) (double) e.getValue(), PieceType.NORMAL));
        }
        result.sort((a, b) -> a.score() != b.score() ? Float.compare(b.score(), a.score()) : a.text().compareTo(b.text()));
        return result;
    }

    static double digamma(double x) {
        double result = 0;
        for (; x < 7; ++x) result -= 1 / x;
        x -= 0.5;
        double xx = 1 / x, xx2 = xx * xx, xx4 = xx2 * xx2;
        return result + Math.log(x) + xx2 / 24 - 7.0 / 960 * xx4 + 31.0 / 8064 * xx4 * xx2 - 127.0 / 30720 * xx4 * xx4;
    }
}
