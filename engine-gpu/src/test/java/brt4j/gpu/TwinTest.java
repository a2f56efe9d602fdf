package brt4j.gpu;

import brt4j.backend.Backend;
import brt4j.backend.Sliding;
import brt4j.backend.ref.ReferenceBackend;
import brt4j.check.Comparison;
import brt4j.check.TensorDiff;
import brt4j.tensor.Tensor;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Base of the tests that make every tensor twice, on the float64 oracle and on a GPU backend, run an op on both and
 * compare (OpsVsOracleTest, Bf16OperandsTest, FlashAttentionTest). A subclass calls {@link #twins} in its set-up.
 */
abstract class TwinTest {
    /** One tensor's two copies, the same float32 values on both backends. */
    record Twin(Tensor ref, Tensor gpu) {}

    Backend ref;
    GpuBackend gpu;
    SplittableRandom rnd;

    void twins(GpuBackend gpu, long seed) {
        this.gpu = gpu;
        this.ref = new ReferenceBackend();
        this.rnd = new SplittableRandom(seed);
    }

    /** Uniform in [-1, 1). */
    Twin rand(int... shape) { return rand(1.0, shape); }

    /** Uniform in [-scale, scale). */
    Twin rand(double scale, int... shape) {
        float[] x = new float[size(shape)];
        for (int i = 0; i < x.length; i++) x[i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
        return of(x, shape);
    }

    /** Multiples of 1/16 in [-1, 1]: exact in bf16, so bf16 operands add no rounding of their own. */
    Twin sixteenths(int... shape) {
        float[] x = new float[size(shape)];
        for (int i = 0; i < x.length; i++) x[i] = (rnd.nextInt(33) - 16) / 16f;
        return of(x, shape);
    }

    Twin zeros(int... shape) { return new Twin(ref.zeros(shape), gpu.zeros(shape)); }

    Twin of(float[] x, int... shape) { return new Twin(ref.upload(x, shape), gpu.upload(x, shape)); }

    /** One sliding window (T5 bias, mask, attention dropout) over each side's copy of the relative bias. */
    record Window(Sliding ref, Sliding gpu) {}

    /** The window of w keys over rel, or none (both null) when w is 0. */
    Window window(int w, Twin rel, int maxDistance, double dropout, long seed) {
        if (w == 0) return new Window(null, null);
        return new Window(new Sliding(w, rel.ref(), maxDistance, dropout, seed), new Sliding(w, rel.gpu(), maxDistance, dropout, seed));
    }

    /** attention on both backends. */
    void attention(Twin q, Twin k, Twin v, int heads, Twin temp, Window s, Twin out, Twin lse) {
        ref.attention(q.ref(), k.ref(), v.ref(), heads, temp.ref(), s.ref(), out.ref(), lse.ref());
        gpu.attention(q.gpu(), k.gpu(), v.gpu(), heads, temp.gpu(), s.gpu(), out.gpu(), lse.gpu());
    }

    /** attentionBackward on both backends; dRel is passed only with a window. */
    void attentionBackward(Twin q, Twin k, Twin v, int heads, Twin temp, Window s, Twin out, Twin lse, Twin dOut,
                           Twin dq, Twin dk, Twin dv, Twin dTemp, Twin dRel) {
        boolean w = s.ref() != null;
        ref.attentionBackward(q.ref(), k.ref(), v.ref(), heads, temp.ref(), s.ref(), out.ref(), lse.ref(), dOut.ref(),
                dq.ref(), dk.ref(), dv.ref(), dTemp.ref(), w ? dRel.ref() : null);
        gpu.attentionBackward(q.gpu(), k.gpu(), v.gpu(), heads, temp.gpu(), s.gpu(), out.gpu(), lse.gpu(), dOut.gpu(),
                dq.gpu(), dk.gpu(), dv.gpu(), dTemp.gpu(), w ? dRel.gpu() : null);
    }

    /** Asserts Comparison's rule, |gpu - ref| <= tol * max(1, max |ref|), and returns the comparison. */
    TensorDiff compare(String what, Twin t, double tol) {
        long[] shape = Arrays.stream(t.ref.shape()).asLongStream().toArray();
        TensorDiff d = Comparison.compare(what, shape, ref.downloadDouble(t.ref), gpu.downloadDouble(t.gpu), tol);
        assertTrue(d.pass(), d.line());
        return d;
    }

    private static int size(int[] shape) {
        int n = 1;
        for (int d : shape) n *= d;
        return n;
    }
}
