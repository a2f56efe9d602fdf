package brt4j.gpu;

import brt4j.backend.Sliding;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tensor-core flash kernels (attention_mma.cu; CUDA in bf16 mode, compute capability 8.0 or later) against the
 * float64 oracle: sliding windows of one and two tiles, no window (the recurrent cell's cross-attention), head dims 64
 * and 128, attention dropout, gradients onto zeros (the kernels overwrite) and onto values (they add).
 *
 * <p>The inputs are multiples of 1/16 in [-1, 1], exact in bf16, so the scores are exact up to float32 sums and the
 * only bf16 roundings are of p and ds: that keeps the errors near 1e-3 and lets a tolerance of 1e-2 of the scale (and
 * 1e-3 absolute on lse) catch a key too many or too few in a window, which moves lse by about 1/W.
 */
class FlashAttentionTest extends TwinTest {
    static final double TOL = 1e-2, LSE_TOL = 1e-3;

    @BeforeEach
    void setUp() {
        twins(Gpus.require("cuda-bf16"), 11);
        org.junit.jupiter.api.Assumptions.assumeTrue(gpu.tensorCoreAttention(), "no tensor-core attention on this device");
    }

    @Test
    void slidingWindowOfOneTileHeadDim64() { check(2, 2, 64, 64, 128, 0, 128); }

    /** W = 256 with the T5 maximum distance 128: the two tiles farthest from the diagonal are summed at once. */
    @Test
    void slidingWindowOfFourTilesHeadDim128WithDropout() { check(1, 3, 128, 256, 256, 0.1, 128); }

    /** Maximum distance 32: a tile of a W = 128 band lies in the last bucket, the other is summed by diagonal. */
    @Test
    void slidingWindowWithAShortBiasRange() { check(2, 2, 64, 128, 128, 0, 32); }

    @Test
    void noWindowCrossAttention() { check(2, 2, 128, 0, 64, 0, 128); }

    @Test
    void noWindowMoreKeysThanQueriesHeadDim64() { check(1, 2, 64, 0, 128, 0, 128); }

    /**
     * Forward and backward of G groups x H heads of dim D, Tq queries (Tk = Tq + W keys under a window), T5 bias of
     * 32 buckets up to maxDistance.
     */
    void check(int g, int h, int d, int w, int tq, double drop, int maxDistance) {
        int tk = w == 0 ? tq + 64 : tq + w;
        String what = "flash G=" + g + " H=" + h + " D=" + d + " W=" + w + " Tq=" + tq + " drop=" + drop + " maxDist=" + maxDistance;
        assertTrue(gpu.flash(w == 0 ? null : new Sliding(w, gpu.zeros(h, 32), 128), tq, tk, d), what + ": eligible");
        Twin q = sixteenths(g, tq, h * d), k = sixteenths(g, tk, h * d), v = sixteenths(g, tk, h * d), temp = sixteenths(h), rel = sixteenths(h, 32);
        Sliding sr = w == 0 ? null : new Sliding(w, rel.ref(), maxDistance, drop, 5);
        Sliding sg = w == 0 ? null : new Sliding(w, rel.gpu(), maxDistance, drop, 5);
        Twin out = zeros(g, tq, h * d), lse = zeros(g, h, tq);
        ref.attention(q.ref(), k.ref(), v.ref(), h, temp.ref(), sr, out.ref(), lse.ref());
        gpu.attention(q.gpu(), k.gpu(), v.gpu(), h, temp.gpu(), sg, out.gpu(), lse.gpu());
        show(what + " out", out, TOL);
        compareAbs(what + " lse", lse, LSE_TOL);

        gpu.synchronize();
        long before = gpu.launches();                   // the bf16 copies are cached now: one kernel, no score block
        gpu.attention(q.gpu(), k.gpu(), v.gpu(), h, temp.gpu(), sg, out.gpu(), lse.gpu());
        assertEquals(1, gpu.launches() - before, what + ": the forward is one launch");

        Twin dOut = sixteenths(g, tq, h * d), dq = sixteenths(g, tq, h * d), dk = zeros(g, tk, h * d), dv = sixteenths(g, tk, h * d);
        Twin dTemp = sixteenths(h), dRel = zeros(h, 32);
        ref.attentionBackward(q.ref(), k.ref(), v.ref(), h, temp.ref(), sr, out.ref(), lse.ref(), dOut.ref(), dq.ref(), dk.ref(), dv.ref(),
                dTemp.ref(), w == 0 ? null : dRel.ref());
        gpu.attentionBackward(q.gpu(), k.gpu(), v.gpu(), h, temp.gpu(), sg, out.gpu(), lse.gpu(), dOut.gpu(), dq.gpu(), dk.gpu(), dv.gpu(),
                dTemp.gpu(), w == 0 ? null : dRel.gpu());
        show(what + " dq (added)", dq, TOL);
        show(what + " dk (onto zeros)", dk, TOL);
        show(what + " dv (added)", dv, TOL);
        show(what + " dTemperature", dTemp, TOL);
        if (w > 0) show(what + " dRelBias", dRel, TOL);
    }

    /** compare, and the errors printed either way (the device run's log records them). */
    void show(String what, Twin t, double tol) { System.out.println(compare(what, t, tol).line()); }

    void compareAbs(String what, Twin t, double tol) {
        double[] e = ref.downloadDouble(t.ref()), a = gpu.downloadDouble(t.gpu());
        double max = 0;
        for (int i = 0; i < e.length; i++) max = Math.max(max, Math.abs(e[i] - a[i]));
        System.out.printf("%s: max abs error %.3g (tol %.1g)%n", what, max, tol);
        assertTrue(max <= tol, what + ": max abs error " + max + " over " + tol);
    }
}
