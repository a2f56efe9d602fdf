package brt4j.generate;

import java.util.Arrays;
import java.util.SplittableRandom;

/** Picks token ids from logits per {@link Sampling}. One per stream; not thread-safe. */
public final class Sampler {
    private final Sampling s;
    private final SplittableRandom rng;
    private double[] probs = new double[0];
    private Integer[] order = new Integer[0];

    public Sampler(Sampling sampling) {
        this.s = sampling;
        this.rng = new SplittableRandom(sampling.seed());
    }

    /** The next id from logits[off, off + v). */
    public int next(float[] logits, int off, int v) {
        if (s.temperature() == 0) return argmax(logits, off, v);
        if (probs.length != v) { probs = new double[v]; order = new Integer[v]; }
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < v; i++) max = Math.max(max, logits[off + i]);
        double sum = 0;
        for (int i = 0; i < v; i++) { probs[i] = Math.exp((logits[off + i] - max) / s.temperature()); sum += probs[i]; }
        for (int i = 0; i < v; i++) probs[i] /= sum;
        int keep = v;
        boolean filter = (s.topK() > 0 && s.topK() < v) || (s.topP() > 0 && s.topP() < 1);
        if (filter) {
            for (int i = 0; i < v; i++) order[i] = i;
            Arrays.sort(order, (a, b) -> Double.compare(probs[b], probs[a]));
            if (s.topK() > 0) keep = Math.min(keep, s.topK());
            if (s.topP() > 0 && s.topP() < 1) {
                double cum = 0;
                int n = 0;
                while (n < keep) { cum += probs[order[n]]; n++; if (cum >= s.topP()) break; }
                keep = n;
            }
            double kept = 0;
            for (int i = 0; i < keep; i++) kept += probs[order[i]];
            double u = rng.nextDouble() * kept;
            for (int i = 0; i < keep; i++) { u -= probs[order[i]]; if (u <= 0) return order[i]; }
            return order[keep - 1];
        }
        double u = rng.nextDouble();
        for (int i = 0; i < v; i++) { u -= probs[i]; if (u <= 0) return i; }
        return v - 1;
    }

    static int argmax(float[] x, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (x[off + i] > x[off + best]) best = i;
        return best;
    }
}
