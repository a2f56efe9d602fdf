package brt4j.model;

import brt4j.autograd.Var;
import brt4j.tensor.Tensor;

import java.util.List;
import java.util.Map;

/**
 * The outcome of one segment: the loss (sum over counted positions, in nats, and per position), the logits, the
 * memory to carry into the next segment, and, when traced, every layer's output and every block's state.
 *
 * @param rowLoss  per position [B*N], 0 where the loss mask is off
 * @param hidden   layer -> residual stream after that layer [B, N, d] (traced runs only, else empty)
 * @param states   recurrent layer -> C_0 .. C_T, each [B, S, d] (traced runs only, else empty)
 */
public record SegmentResult(double lossSum, int tokenCount, double[] rowLoss, Var logits, Memory memory,
                            Map<Integer, Tensor> hidden, Map<Integer, List<Tensor>> states) {

    /** Mean loss in nats per counted token (0 when nothing counted). */
    public double loss() { return tokenCount == 0 ? 0 : lossSum / tokenCount; }

    public static final double BITS_PER_NAT = 1.4426950408889634;

    public double bitsPerToken() { return loss() * BITS_PER_NAT; }
}
