package brt4j.gpu;

import brt4j.backend.Backend;
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
        Window s = window(w, rel, maxDistance, drop, 5);
        Twin out = zeros(g, tq, h * d), lse = zeros(g, h, tq);
        attention(q, k, v, h, temp, s, out, lse);
        show(what + " out", out, TOL);
        compareAbs(what + " lse", lse, LSE_TOL);

        gpu.synchronize();
        long before = gpu.launches();                   // the bf16 copies are cached now: one kernel, no score block
        gpu.attention(q.gpu(), k.gpu(), v.gpu(), h, temp.gpu(), s.gpu(), out.gpu(), lse.gpu());
        assertEquals(1, gpu.launches() - before, what + ": the forward is one launch");

        Twin dOut = sixteenths(g, tq, h * d), dq = sixteenths(g, tq, h * d), dk = zeros(g, tk, h * d), dv = sixteenths(g, tk, h * d);
        Twin dTemp = sixteenths(h), dRel = zeros(h, 32);
        attentionBackward(q, k, v, h, temp, s, out, lse, dOut, dq, dk, dv, dTemp, dRel);
        show(what + " dq (added)", dq, TOL);
        show(what + " dk (onto zeros)", dk, TOL);
        show(what + " dv (added)", dv, TOL);
        show(what + " dTemperature", dTemp, TOL);
        if (w > 0) show(what + " dRelBias", dRel, TOL);
    }

    /**
     * The recurrent cell's pair (self-attention over as many keys as queries, cross-attention over twice as many), in
     * one launch of k_flash_fwd2 and one each of the paired backward kernels: 2 groups, so the grid's x covers groups
     * and tiles, and the cross-attention's extra key tiles leave CTAs of the self-attention idle in bwd_kv. The pair
     * must give what the two single flash calls give (the same device code; checked to 1e-5), and out, lse, dq, dk,
     * dv the oracle's within the tolerances above. (The temperature's gradient, a sum of 2 x 128 x 128 rounded terms
     * per head, is held to the single calls here; the single kernels' own cases check it against the oracle.)
     */
    @Test
    void pairOfCellAttentionsSideBySide() {
        int g = 2, h = 2, d = 128, tq = 128;
        Twin[] self = {sixteenths(g, tq, h * d), sixteenths(g, tq, h * d), sixteenths(g, tq, h * d), sixteenths(h)};
        Twin[] cross = {sixteenths(g, tq, h * d), sixteenths(g, 2 * tq, h * d), sixteenths(g, 2 * tq, h * d), sixteenths(h)};
        Twin out0 = zeros(g, tq, h * d), lse0 = zeros(g, h, tq), out1 = zeros(g, tq, h * d), lse1 = zeros(g, h, tq);
        Twin sOut0 = zeros(g, tq, h * d), sLse0 = zeros(g, h, tq), sOut1 = zeros(g, tq, h * d), sLse1 = zeros(g, h, tq);
        ref.attentionPair(h, attn(true, self, out0, lse0), attn(true, cross, out1, lse1));
        gpu.attentionPair(h, attn(false, self, out0, lse0), attn(false, cross, out1, lse1));
        gpu.synchronize();
        long before = gpu.launches();                   // the bf16 copies are cached now
        gpu.attentionPair(h, attn(false, self, out0, lse0), attn(false, cross, out1, lse1));
        assertEquals(1, gpu.launches() - before, "the pair's forward is one launch");
        single(h, self, sOut0, sLse0);
        single(h, cross, sOut1, sLse1);
        show("pair: self out", out0, TOL);
        show("pair: cross out", out1, TOL);
        compareAbs("pair: self lse", lse0, LSE_TOL);
        compareAbs("pair: cross lse", lse1, LSE_TOL);
        sameOnGpu("pair vs single calls: out", out0, sOut0, out1, sOut1, lse0, sLse0, lse1, sLse1);

        // gradients onto values and onto zeros, from the pair and from two single backward calls on copies
        Twin[] g0 = {sixteenths(g, tq, h * d), sixteenths(g, tq, h * d), zeros(g, tq, h * d), sixteenths(g, tq, h * d), sixteenths(h)};
        Twin[] g1 = {sixteenths(g, tq, h * d), zeros(g, tq, h * d), sixteenths(g, 2 * tq, h * d), zeros(g, 2 * tq, h * d), zeros(h)};
        Twin[] s0 = copies(g0), s1 = copies(g1);
        ref.attentionPairBackward(h, attn(true, self, out0, lse0), grads(true, g0), attn(true, cross, out1, lse1), grads(true, g1));
        gpu.attentionPairBackward(h, attn(false, self, out0, lse0), grads(false, g0), attn(false, cross, out1, lse1), grads(false, g1));
        singleBackward(h, self, out0, lse0, s0);
        singleBackward(h, cross, out1, lse1, s1);
        for (int i = 1; i < 4; i++) show("pair: self gradient " + i, g0[i], TOL);
        for (int i = 1; i < 4; i++) show("pair: cross gradient " + i, g1[i], TOL);
        sameOnGpu("pair vs single calls: gradients", g0[1], s0[1], g0[2], s0[2], g0[3], s0[3], g0[4], s0[4],
                g1[1], s1[1], g1[2], s1[2], g1[3], s1[3], g1[4], s1[4]);
    }

    private void single(int h, Twin[] in, Twin out, Twin lse) {
        gpu.attention(in[0].gpu(), in[1].gpu(), in[2].gpu(), h, in[3].gpu(), null, out.gpu(), lse.gpu());
    }

    private void singleBackward(int h, Twin[] in, Twin out, Twin lse, Twin[] gr) {
        gpu.attentionBackward(in[0].gpu(), in[1].gpu(), in[2].gpu(), h, in[3].gpu(), null, out.gpu(), lse.gpu(), gr[0].gpu(),
                gr[1].gpu(), gr[2].gpu(), gr[3].gpu(), gr[4].gpu(), null);
    }

    /** Fresh twins holding the same values (zeros stay fresh zeros). */
    private Twin[] copies(Twin[] ts) {
        Twin[] c = new Twin[ts.length];
        for (int i = 0; i < ts.length; i++) {
            c[i] = zeros(ts[i].ref().shape());
            double[] vals = gpu.downloadDouble(ts[i].gpu());
            boolean allZero = java.util.Arrays.stream(vals).allMatch(x -> x == 0);
            if (!allZero) gpu.copy(ts[i].gpu(), c[i].gpu());
        }
        return c;
    }

    /** Pairs (actual, expected) of GPU tensors, equal to 1e-5 of their scale (the same device code: a swapped or half-done problem is off by O(1)). */
    private void sameOnGpu(String what, Twin... pairs) {
        for (int i = 0; i < pairs.length; i += 2) {
            double[] a = gpu.downloadDouble(pairs[i].gpu()), e = gpu.downloadDouble(pairs[i + 1].gpu());
            double scale = 1, max = 0;
            for (int j = 0; j < e.length; j++) { scale = Math.max(scale, Math.abs(e[j])); max = Math.max(max, Math.abs(a[j] - e[j])); }
            assertTrue(max <= 1e-5 * scale, what + " (tensor " + i / 2 + "): max difference " + max + " at scale " + scale);
        }
    }

    private Backend.Attn attn(boolean oracle, Twin[] in, Twin out, Twin lse) {
        return oracle ? new Backend.Attn(in[0].ref(), in[1].ref(), in[2].ref(), in[3].ref(), out.ref(), lse.ref())
                : new Backend.Attn(in[0].gpu(), in[1].gpu(), in[2].gpu(), in[3].gpu(), out.gpu(), lse.gpu());
    }

    private Backend.AttnGrads grads(boolean oracle, Twin[] gr) {
        return oracle ? new Backend.AttnGrads(gr[0].ref(), gr[1].ref(), gr[2].ref(), gr[3].ref(), gr[4].ref())
                : new Backend.AttnGrads(gr[0].gpu(), gr[1].gpu(), gr[2].gpu(), gr[3].gpu(), gr[4].gpu());
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
