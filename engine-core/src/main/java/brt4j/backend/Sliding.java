package brt4j.backend;

import brt4j.tensor.Tensor;

/**
 * The token self-attention's sliding window (spec §1.4): keys are [the window keys before the first query ; the
 * queries' own keys], so Tq queries read Tk = Tq + window keys, and query i may attend key j iff
 * 1 <= delta <= window with delta = i + window - j. Every query therefore sees exactly the window tokens strictly
 * before it, never itself. In training Tq is a whole segment (its blocks' [previous ; current] windows are exactly
 * these keys); in generation it may be a single token.
 * The T5 bias is added per head from {@code relBias} [H, buckets] before the temperature multiplies the logit.
 *
 * <p>Attention dropout ([code-2022]): the keep mask has shape (H, window, 2*window), indexed by the query's place
 * in its block and the key's place in that block's [previous ; current] window, and is shared by every batch row
 * and every block of the segment. A rate of 0 switches it off.
 */
public record Sliding(int window, Tensor relBias, int maxDistance, double dropoutRate, long dropoutSeed) {
    public Sliding {
        if (window < 1) throw new IllegalArgumentException("sliding attention: window must be positive, got " + window);
        if (maxDistance < 1) throw new IllegalArgumentException("sliding attention: maxDistance must be positive, got " + maxDistance);
        if (!(dropoutRate >= 0 && dropoutRate < 1)) throw new IllegalArgumentException("sliding attention: dropout rate must be in [0, 1), got " + dropoutRate);
    }

    public Sliding(int window, Tensor relBias, int maxDistance) { this(window, relBias, maxDistance, 0, 0); }

    public int buckets() { return relBias.cols(); }

    /** Index of the shared dropout decision for (head, query i, key j) of a segment; see the class comment. */
    public long dropoutIndex(int head, int i, int j) {
        int block = i / window;
        int qi = i - block * window;
        int kj = j - block * window;
        return ((long) head * window + qi) * (2L * window) + kj;
    }
}
