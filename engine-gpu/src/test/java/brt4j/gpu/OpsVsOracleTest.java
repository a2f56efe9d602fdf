package brt4j.gpu;

import brt4j.backend.AdafactorSpec;
import brt4j.backend.Backend;
import brt4j.backend.Backend.Activation;
import brt4j.backend.Sliding;
import brt4j.check.Comparison;
import brt4j.check.TensorDiff;
import brt4j.tensor.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every op of the seam on each GPU backend against the float64 oracle, forward and backward, on fresh random inputs
 * at awkward sizes (1, 3, 17, 33, 130), judged by {@link Comparison} at the float32 tolerance. Backward outputs
 * start from random values, which checks that gradients are added. Each backend is skipped, saying why, where its
 * platform is missing.
 */
@ParameterizedClass
@ValueSource(strings = {"opencl", "cuda"})
class OpsVsOracleTest extends TwinTest {
    static final int[] SIZES = {1, 3, 17, 33, 130};
    static final double TOL = 1e-5;

    @Parameter String kind;

    @BeforeEach
    void setUp() { twins(Gpus.require(kind), 20240611L); }

    void check(String what, Twin t) { check(what, t, TOL); }

    void check(String what, Twin t, double tol) { compare(what + " on " + kind, t, tol); }

    void checkScalar(String what, double got, double want) {
        TensorDiff d = Comparison.compare(what + " on " + kind, new long[]{1}, new double[]{want}, new double[]{got}, TOL);
        assertTrue(d.pass(), d.line());
    }

    // ---------------------------------------------------------------- matmul

    @Test
    void matmulAllTransposesAwkwardSizes() {
        for (int m : SIZES) for (int n : SIZES) for (int k : new int[]{1, 17, 130}) {
            for (int t = 0; t < 4; t++) matmulCase(1, m, n, k, (t & 1) != 0, (t & 2) != 0, 1.0, 0.0);
        }
    }

    @Test
    void matmulAlphaBetaBatched() {
        matmulCase(3, 17, 33, 5, false, false, 0.5, 1.0);
        matmulCase(4, 130, 3, 33, true, false, -2.0, 0.25);
        matmulCase(2, 33, 70, 17, false, true, 1.0, 1.0);
        matmulCase(1, 200, 300, 600, false, false, 1.0, 0.5);
        matmulCase(1, 97, 1100, 64, true, true, 1.0, 0.0);
    }

    @Test
    void matmulBetaZeroIgnoresNaN() {
        Twin a = rand(3, 17), b = rand(17, 5);
        float[] nan = new float[15];
        java.util.Arrays.fill(nan, Float.NaN);
        Twin c = of(nan, 3, 5);
        ref.matmul(a.ref(), false, b.ref(), false, c.ref(), 1, 0);
        gpu.matmul(a.gpu(), false, b.gpu(), false, c.gpu(), 1, 0);
        check("matmul beta 0 over NaN", c);
    }

    @Test
    void matmulGroupOfIndependentProducts() {
        matmulGroupCase(4, 17, 33, 130, false, true, 1.0, 0.0);       // the cell's projections: x W_i^T
        matmulGroupCase(3, 130, 33, 17, true, false, 1.0, 1.0);       // their weight gradients: dy_i^T x, added
        matmulGroupCase(2, 3, 1, 5, false, false, -0.5, 0.25);
    }

    /** Some outputs hold zeros not yet filled and some values: beta must apply to the values, zeros to the rest. */
    @Test
    void matmulGroupOntoFreshAndFilledOutputs() {
        Twin a = rand(17, 33), b0 = rand(33, 5), b1 = rand(33, 5), c0 = zeros(17, 5), c1 = rand(17, 5);
        ref.matmulGroup(List.of(a.ref(), a.ref()), false, List.of(b0.ref(), b1.ref()), false, List.of(c0.ref(), c1.ref()), 1, 1);
        gpu.matmulGroup(List.of(a.gpu(), a.gpu()), false, List.of(b0.gpu(), b1.gpu()), false, List.of(c0.gpu(), c1.gpu()), 1, 1);
        check("matmulGroup onto fresh zeros", c0);
        check("matmulGroup onto values", c1);
    }

    private void matmulGroupCase(int count, int m, int n, int k, boolean ta, boolean tb, double alpha, double beta) {
        List<Twin> a = new ArrayList<>(), b = new ArrayList<>(), c = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            a.add(i % 2 == 1 ? a.get(0) : ta ? rand(k, m) : rand(m, k));   // shared operands, as x in the cell
            b.add(tb ? rand(n, k) : rand(k, n));
            c.add(rand(m, n));
        }
        ref.matmulGroup(a.stream().map(Twin::ref).toList(), ta, b.stream().map(Twin::ref).toList(), tb,
                c.stream().map(Twin::ref).toList(), alpha, beta);
        gpu.matmulGroup(a.stream().map(Twin::gpu).toList(), ta, b.stream().map(Twin::gpu).toList(), tb,
                c.stream().map(Twin::gpu).toList(), alpha, beta);
        for (int i = 0; i < count; i++) check("matmulGroup product " + i + " of " + count + ", " + m + "x" + k + " . " + k + "x" + n, c.get(i));
    }

    private void matmulCase(int batch, int m, int n, int k, boolean ta, boolean tb, double alpha, double beta) {
        Twin a = ta ? rand(batch, k, m) : rand(batch, m, k);
        Twin b = tb ? rand(batch, n, k) : rand(batch, k, n);
        Twin c = rand(batch, m, n);
        ref.batchedMatmul(batch, a.ref(), ta, b.ref(), tb, c.ref(), alpha, beta);
        gpu.batchedMatmul(batch, a.gpu(), ta, b.gpu(), tb, c.gpu(), alpha, beta);
        check("matmul batch " + batch + " " + m + "x" + k + (ta ? "^T" : "") + " . " + k + "x" + n + (tb ? "^T" : ""), c);
    }

    // ---------------------------------------------------------------- elementwise

    @Test
    void elementwiseOps() {
        for (int n : SIZES) {
            Twin a = rand(n, 3), b = rand(n, 3), out = zeros(n, 3);
            ref.add(a.ref(), b.ref(), out.ref()); gpu.add(a.gpu(), b.gpu(), out.gpu());
            check("add", out);
            ref.axpy(-0.7, a.ref(), b.ref()); gpu.axpy(-0.7, a.gpu(), b.gpu());
            check("axpy", b);
            ref.scale(a.ref(), 1.7); gpu.scale(a.gpu(), 1.7);
            check("scale", a);
            Twin v = rand(3);
            ref.addBroadcast(a.ref(), v.ref(), out.ref()); gpu.addBroadcast(a.gpu(), v.gpu(), out.gpu());
            check("addBroadcast", out);
            ref.sumBroadcast(a.ref(), v.ref()); gpu.sumBroadcast(a.gpu(), v.gpu());
            check("sumBroadcast", v);
            checkScalar("sumSquares", gpu.sumSquares(a.gpu()), ref.sumSquares(a.ref()));
            Twin c = zeros(n, 3);
            ref.copy(b.ref(), c.ref()); gpu.copy(b.gpu(), c.gpu());
            check("copy", c);
            ref.fill(c.ref(), 0.25); gpu.fill(c.gpu(), 0.25);
            check("fill", c);
            assertTrue(gpu.allFinite(c.gpu()));
        }
        Twin big = rand(70_001), v = rand(7);
        checkScalar("sumSquares large", gpu.sumSquares(big.gpu()), ref.sumSquares(big.ref()));
        Twin big2 = rand(10_003, 7);
        ref.sumBroadcast(big2.ref(), v.ref()); gpu.sumBroadcast(big2.gpu(), v.gpu());
        check("sumBroadcast large", v);
        float[] withNaN = {1, Float.NaN, 2};
        assertTrue(!gpu.allFinite(gpu.upload(withNaN, 3)), "allFinite sees a NaN");
    }

    @Test
    void viewsShareStorageAndFreeIsSafe() {
        Twin a = rand(4, 6);
        Tensor v = gpu.view(a.gpu(), 2, 12), rv = ref.view(a.ref(), 2, 12);
        gpu.scale(v, 2); ref.scale(rv, 2);
        check("scaled through a view", a);
        gpu.free(v);
        gpu.free(v);                                   // twice: harmless
        check("the base survives freeing its view", a);
    }

    @Test
    void activations() {
        for (Activation f : Activation.values()) {
            for (int n : SIZES) {
                Twin x = rand(4.0, n, 7), y = zeros(n, 7), dy = rand(n, 7), dx = rand(n, 7);
                ref.activation(f, x.ref(), y.ref()); gpu.activation(f, x.gpu(), y.gpu());
                check(f + " forward", y);
                Twin saved = f == Activation.RELU ? x : y;
                ref.activationBackward(f, saved.ref(), dy.ref(), dx.ref());
                gpu.activationBackward(f, saved.gpu(), dy.gpu(), dx.gpu());
                check(f + " backward", dx);
            }
        }
    }

    // ---------------------------------------------------------------- norms

    @Test
    void rmsNorm() {
        for (int rows : SIZES) for (int cols : new int[]{1, 3, 17, 130, 1000}) {
            Twin x = rand(rows, cols), g = rand(cols), out = zeros(rows, cols), rstd = zeros(rows);
            ref.rmsNorm(x.ref(), g.ref(), 1e-6, out.ref(), rstd.ref()); gpu.rmsNorm(x.gpu(), g.gpu(), 1e-6, out.gpu(), rstd.gpu());
            check("rmsNorm out", out); check("rmsNorm rstd", rstd);
            Twin dy = rand(rows, cols), dx = rand(rows, cols), dg = rand(cols);
            ref.rmsNormBackward(x.ref(), g.ref(), rstd.ref(), dy.ref(), dx.ref(), dg.ref());
            gpu.rmsNormBackward(x.gpu(), g.gpu(), rstd.gpu(), dy.gpu(), dx.gpu(), dg.gpu());
            check("rmsNormBackward dx", dx); check("rmsNormBackward dScale", dg);
        }
    }

    @Test
    void l2NormHeads() {
        for (int rows : SIZES) for (int heads : new int[]{1, 3, 8}) for (int hd : new int[]{2, 17, 33}) {
            Twin x = rand(rows, heads * hd), out = zeros(rows, heads * hd), rn = zeros(rows * heads);
            ref.l2NormHeads(x.ref(), heads, 1e-6, out.ref(), rn.ref()); gpu.l2NormHeads(x.gpu(), heads, 1e-6, out.gpu(), rn.gpu());
            check("l2NormHeads out", out); check("l2NormHeads rnorm", rn);
            Twin dy = rand(rows, heads * hd), dx = rand(rows, heads * hd);
            ref.l2NormHeadsBackward(out.ref(), rn.ref(), heads, dy.ref(), dx.ref());
            gpu.l2NormHeadsBackward(out.gpu(), rn.gpu(), heads, dy.gpu(), dx.gpu());
            check("l2NormHeadsBackward", dx);
        }
    }

    // ---------------------------------------------------------------- embedding, gates, dropout

    @Test
    void embedding() {
        int[] ids = {0, 5, -1, 16, 33, 5, 5, 2};
        for (int cols : new int[]{1, 17, 33}) {
            Twin table = rand(17, cols), out = zeros(ids.length, cols);
            ref.embedding(table.ref(), ids, out.ref()); gpu.embedding(table.gpu(), ids, out.gpu());
            check("embedding", out);
            Twin dOut = rand(ids.length, cols), dTable = rand(17, cols);
            ref.embeddingBackward(dOut.ref(), ids, dTable.ref()); gpu.embeddingBackward(dOut.gpu(), ids, dTable.gpu());
            check("embeddingBackward", dTable);
        }
    }

    @Test
    void gates() {
        for (int rows : SIZES) for (int cols : new int[]{1, 17, 33}) {
            Twin c = rand(rows, cols), z = rand(rows, cols), bias = rand(3.0, cols), out = zeros(rows, cols);
            ref.gateFixed(c.ref(), z.ref(), bias.ref(), out.ref()); gpu.gateFixed(c.gpu(), z.gpu(), bias.gpu(), out.gpu());
            check("gateFixed", out);
            Twin dOut = rand(rows, cols), dc = rand(rows, cols), dz = rand(rows, cols), db = rand(cols);
            ref.gateFixedBackward(c.ref(), z.ref(), bias.ref(), dOut.ref(), dc.ref(), dz.ref(), db.ref());
            gpu.gateFixedBackward(c.gpu(), z.gpu(), bias.gpu(), dOut.gpu(), dc.gpu(), dz.gpu(), db.gpu());
            check("gateFixedBackward dc", dc); check("gateFixedBackward dz", dz); check("gateFixedBackward dBias", db);
            Twin f = rand(3.0, rows, cols), i = rand(3.0, rows, cols);
            ref.gateLstm(c.ref(), z.ref(), f.ref(), i.ref(), out.ref()); gpu.gateLstm(c.gpu(), z.gpu(), f.gpu(), i.gpu(), out.gpu());
            check("gateLstm", out);
            Twin df = rand(rows, cols), di = rand(rows, cols);
            ref.gateLstmBackward(c.ref(), z.ref(), f.ref(), i.ref(), dOut.ref(), dc.ref(), dz.ref(), df.ref(), di.ref());
            gpu.gateLstmBackward(c.gpu(), z.gpu(), f.gpu(), i.gpu(), dOut.gpu(), dc.gpu(), dz.gpu(), df.gpu(), di.gpu());
            check("gateLstmBackward dc", dc); check("gateLstmBackward dz", dz);
            check("gateLstmBackward dfPre", df); check("gateLstmBackward diPre", di);
        }
    }

    @Test
    void dropout() {
        for (int tile : new int[]{0, 3, 128}) for (int rows : SIZES) {
            Twin x = rand(rows, 17), out = rand(rows, 17), dx = rand(rows, 17);
            ref.dropout(x.ref(), out.ref(), 0.3, 77, tile); gpu.dropout(x.gpu(), out.gpu(), 0.3, 77, tile);
            check("dropout", out);
            ref.dropoutBackward(x.ref(), dx.ref(), 0.3, 77, tile); gpu.dropoutBackward(x.gpu(), dx.gpu(), 0.3, 77, tile);
            check("dropoutBackward", dx);
        }
    }

    // ---------------------------------------------------------------- cross-entropy

    @Test
    void crossEntropy() {
        for (int v : new int[]{1, 3, 17, 130, 32_003}) {
            int rows = v > 1000 ? 3 : 17;
            Twin logits = rand(8.0, rows, v), loss = zeros(rows), dl = rand(rows, v);
            int[] targets = new int[rows];
            boolean[] mask = new boolean[rows];
            for (int r = 0; r < rows; r++) { targets[r] = rnd.nextInt(-v, 2 * v); mask[r] = r % 4 != 1; }
            double a = ref.crossEntropy(logits.ref(), targets, mask, loss.ref());
            double b = gpu.crossEntropy(logits.gpu(), targets, mask, loss.gpu());
            check("crossEntropy rowLoss V=" + v, loss);
            checkScalar("crossEntropy total", b, a);
            ref.crossEntropyBackward(logits.ref(), targets, mask, 0.37, dl.ref());
            gpu.crossEntropyBackward(logits.gpu(), targets, mask, 0.37, dl.gpu());
            check("crossEntropyBackward V=" + v, dl);
            // Logits changed since their forward: the backward must not use the row statistics the forward kept.
            ref.scale(logits.ref(), 0.5); gpu.scale(logits.gpu(), 0.5);
            ref.crossEntropyBackward(logits.ref(), targets, mask, 0.37, dl.ref());
            gpu.crossEntropyBackward(logits.gpu(), targets, mask, 0.37, dl.gpu());
            check("crossEntropyBackward of changed logits V=" + v, dl);
        }
    }

    // ---------------------------------------------------------------- rows, columns, batch select

    @Test
    void slicesAndSelect() {
        Twin a = rand(3, 2, 17), b = rand(3, 5, 17), out = zeros(3, 7, 17);
        ref.concatRows(List.of(a.ref(), b.ref()), out.ref()); gpu.concatRows(List.of(a.gpu(), b.gpu()), out.gpu());
        check("concatRows", out);
        Twin part = zeros(3, 4, 17), dWhole = rand(3, 7, 17), dPart = rand(3, 4, 17), acc = rand(3, 4, 17);
        ref.sliceRows(out.ref(), 2, part.ref()); gpu.sliceRows(out.gpu(), 2, part.gpu());
        check("sliceRows", part);
        ref.sliceRowsAccumulate(out.ref(), 1, acc.ref()); gpu.sliceRowsAccumulate(out.gpu(), 1, acc.gpu());
        check("sliceRowsAccumulate", acc);
        ref.sliceRowsBackward(dPart.ref(), 3, dWhole.ref()); gpu.sliceRowsBackward(dPart.gpu(), 3, dWhole.gpu());
        check("sliceRowsBackward", dWhole);

        Twin c1 = rand(33, 3), c2 = rand(33, 17), cat = zeros(33, 20);
        ref.concatCols(List.of(c1.ref(), c2.ref()), cat.ref()); gpu.concatCols(List.of(c1.gpu(), c2.gpu()), cat.gpu());
        check("concatCols", cat);
        Twin cp = zeros(33, 17), dCat = rand(33, 20), dCp = rand(33, 17), cacc = rand(33, 17);
        ref.sliceCols(cat.ref(), 1, cp.ref()); gpu.sliceCols(cat.gpu(), 1, cp.gpu());
        check("sliceCols", cp);
        ref.sliceColsAccumulate(cat.ref(), 2, cacc.ref()); gpu.sliceColsAccumulate(cat.gpu(), 2, cacc.gpu());
        check("sliceColsAccumulate", cacc);
        ref.sliceColsBackward(dCp.ref(), 3, dCat.ref()); gpu.sliceColsBackward(dCp.gpu(), 3, dCat.gpu());
        check("sliceColsBackward", dCat);

        boolean[] take = {true, false, true, false};
        Twin init = rand(5, 17), carried = rand(4, 5, 17), sel = zeros(4, 5, 17);
        ref.selectBatch(take, init.ref(), carried.ref(), sel.ref()); gpu.selectBatch(take, init.gpu(), carried.gpu(), sel.gpu());
        check("selectBatch", sel);
        Twin dSel = rand(4, 5, 17), dA = rand(5, 17), dB = rand(4, 5, 17);
        ref.selectBatchBackward(take, dSel.ref(), dA.ref(), dB.ref()); gpu.selectBatchBackward(take, dSel.gpu(), dA.gpu(), dB.gpu());
        check("selectBatchBackward dA", dA); check("selectBatchBackward dB", dB);
        ref.selectBatchBackward(take, dSel.ref(), dA.ref(), null); gpu.selectBatchBackward(take, dSel.gpu(), dA.gpu(), null);
        check("selectBatchBackward dA (no dB)", dA);
    }

    // ---------------------------------------------------------------- attention

    @Test
    void slidingAttention() {
        for (int w : new int[]{1, 3, 8, 17}) for (int d : new int[]{3, 16, 17}) for (double rate : new double[]{0, 0.2}) {
            attentionCase(2, 3, d, w, 2 * w, 3 * w, rate);
        }
    }

    @Test
    void slidingAttentionLarger() {
        attentionCase(1, 2, 64, 40, 80, 120, 0);
        attentionCase(1, 2, 33, 70, 70, 140, 0.1);
        attentionCase(1, 1, 128, 16, 32, 48, 0);
    }

    /** Queries that are not whole windows (generation): the per-query kernels rather than the blocked path. */
    @Test
    void slidingAttentionNotWholeBlocks() {
        attentionCase(2, 3, 16, 3, 5, 8, 0.2);
        attentionCase(1, 2, 17, 4, 1, 5, 0);
    }

    @Test
    void fullAttention() {
        attentionCase(2, 3, 17, 0, 5, 7, 0);
        attentionCase(1, 2, 16, 0, 33, 130, 0);
        attentionCase(2, 1, 1, 0, 3, 1, 0);
        attentionCase(1, 4, 64, 0, 70, 40, 0);
        attentionCase(1, 2, 4, 0, 3, 4100, 0);          // a row wider than the softmax keeps in registers (16 x 256)
    }

    /** Generation's windowAttention has no GPU kernel: Backend's default (copy the rows out, then attention) runs. */
    @Test
    void windowAttentionThroughTheDefault() {
        for (int[] c : new int[][]{{1, 2, 16, 8, 1, 16, 3}, {2, 3, 17, 5, 3, 10, 2}, {1, 1, 64, 12, 12, 24, 0}}) {
            int g = c[0], h = c[1], d = c[2], w = c[3], tq = c[4], t = c[5], start = c[6];
            Twin q = rand(g, tq, h * d), keys = rand(g, t, h * d), values = rand(g, t, h * d);
            Twin temp = rand(4.0, h), rel = rand(2.0, h, 32), out = rand(g, tq, h * d);
            ref.windowAttention(q.ref(), keys.ref(), values.ref(), start, h, temp.ref(), new Sliding(w, rel.ref(), 128), out.ref());
            gpu.windowAttention(q.gpu(), keys.gpu(), values.gpu(), start, h, temp.gpu(), new Sliding(w, rel.gpu(), 128), out.gpu());
            check("windowAttention G=" + g + " H=" + h + " D=" + d + " W=" + w + " Tq=" + tq + " T=" + t + " start=" + start, out);
        }
    }

    private void attentionCase(int g, int h, int d, int w, int tq, int tk, double rate) {
        String what = "attention G=" + g + " H=" + h + " D=" + d + " W=" + w + " Tq=" + tq + " Tk=" + tk + " rate=" + rate;
        Twin q = rand(g, tq, h * d), k = rand(g, tk, h * d), v = rand(g, tk, h * d);
        Twin temp = rand(4.0, h), rel = rand(2.0, h, 32);
        Window s = window(w, rel, 128, rate, 1234);
        Twin out = zeros(g, tq, h * d), lse = zeros(g, h, tq);
        attention(q, k, v, h, temp, s, out, lse);
        check(what + " out", out);
        check(what + " lse", lse);
        Twin dOut = rand(g, tq, h * d), dq = rand(g, tq, h * d), dk = rand(g, tk, h * d), dv = rand(g, tk, h * d);
        Twin dTemp = rand(h), dRel = rand(h, 32);
        attentionBackward(q, k, v, h, temp, s, out, lse, dOut, dq, dk, dv, dTemp, dRel);
        check(what + " dq", dq); check(what + " dk", dk); check(what + " dv", dv);
        // dTemperature sums ds * raw over every score of a head, and ds sums to about zero: float32 rounding of the
        // scores shows at about 1e-5 of it (1.03e-5 measured on an H200, scores from cuBLAS), hence 3e-5 here.
        check(what + " dTemperature", dTemp, 3 * TOL);
        if (w > 0) check(what + " dRelBias", dRel);
    }

    // ---------------------------------------------------------------- lazy zeros (GpuBackend: fills wait for a reader)

    /**
     * Every op that adds into its output, onto fresh zeros (and onto a tensor zeroed by fill(0), as zeroGrads does):
     * the GPU backend has not filled those yet and runs such an op in its overwrite mode (beta 0, accumulate 0), or
     * fills first where the op writes only part of the target. Also aliasing: the pending tensor as an input too.
     */
    @Test
    void accumulatingOpsOntoFreshZeros() {
        for (int t = 0; t < 4; t++) {
            boolean ta = (t & 1) != 0, tb = (t & 2) != 0;
            Twin a = ta ? rand(2, 17, 33) : rand(2, 33, 17), b = tb ? rand(2, 5, 17) : rand(2, 17, 5), c = zeros(2, 33, 5);
            ref.batchedMatmul(2, a.ref(), ta, b.ref(), tb, c.ref(), -0.5, 1); gpu.batchedMatmul(2, a.gpu(), ta, b.gpu(), tb, c.gpu(), -0.5, 1);
            check("matmul beta 1 onto zeros", c);
            ref.fill(c.ref(), 0); gpu.fill(c.gpu(), 0);
            ref.batchedMatmul(2, a.ref(), ta, b.ref(), tb, c.ref(), 2, 0.5); gpu.batchedMatmul(2, a.gpu(), ta, b.gpu(), tb, c.gpu(), 2, 0.5);
            check("matmul beta 0.5 onto fill(0)", c);
            ref.batchedMatmul(2, a.ref(), ta, b.ref(), tb, c.ref(), 1, 1); gpu.batchedMatmul(2, a.gpu(), ta, b.gpu(), tb, c.gpu(), 1, 1);
            check("matmul beta 1 onto a filled result", c);
        }
        Twin x = rand(33, 7), y = zeros(33, 7);
        ref.axpy(-0.7, x.ref(), y.ref()); gpu.axpy(-0.7, x.gpu(), y.gpu());
        check("axpy onto zeros", y);
        ref.axpy(1.5, x.ref(), y.ref()); gpu.axpy(1.5, x.gpu(), y.gpu());
        check("axpy onto values", y);
        Twin z = zeros(33, 7);
        ref.axpy(1, z.ref(), z.ref()); gpu.axpy(1, z.gpu(), z.gpu());
        check("axpy of pending zeros onto themselves", z);
        ref.add(z.ref(), x.ref(), z.ref()); gpu.add(z.gpu(), x.gpu(), z.gpu());
        check("add with the pending output as an input", z);
        Twin sq = zeros(130);
        checkScalar("sumSquares of zeros", gpu.sumSquares(sq.gpu()), 0);
        check("download of zeros", sq);
        Twin cp = rand(33, 7);
        ref.copy(zeros(33, 7).ref(), cp.ref()); gpu.copy(zeros(33, 7).gpu(), cp.gpu());
        check("copy of zeros", cp);

        for (Activation f : Activation.values()) {
            Twin in = rand(4.0, 17, 7), out = zeros(17, 7), dy = rand(17, 7), dx = zeros(17, 7);
            ref.activation(f, in.ref(), out.ref()); gpu.activation(f, in.gpu(), out.gpu());
            Twin saved = f == Activation.RELU ? in : out;
            ref.activationBackward(f, saved.ref(), dy.ref(), dx.ref()); gpu.activationBackward(f, saved.gpu(), dy.gpu(), dx.gpu());
            check(f + " backward onto zeros", dx);
        }
        Twin xr = rand(17, 130), g = rand(130), out = zeros(17, 130), rstd = zeros(17), dy = rand(17, 130);
        ref.rmsNorm(xr.ref(), g.ref(), 1e-6, out.ref(), rstd.ref()); gpu.rmsNorm(xr.gpu(), g.gpu(), 1e-6, out.gpu(), rstd.gpu());
        Twin dx = zeros(17, 130), dg = zeros(130);
        ref.rmsNormBackward(xr.ref(), g.ref(), rstd.ref(), dy.ref(), dx.ref(), dg.ref()); gpu.rmsNormBackward(xr.gpu(), g.gpu(), rstd.gpu(), dy.gpu(), dx.gpu(), dg.gpu());
        check("rmsNormBackward dx onto zeros", dx); check("rmsNormBackward dScale onto zeros", dg);
        Twin xh = rand(17, 3 * 33), yh = zeros(17, 3 * 33), rn = zeros(17 * 3), dyh = rand(17, 3 * 33), dxh = zeros(17, 3 * 33);
        ref.l2NormHeads(xh.ref(), 3, 1e-6, yh.ref(), rn.ref()); gpu.l2NormHeads(xh.gpu(), 3, 1e-6, yh.gpu(), rn.gpu());
        ref.l2NormHeadsBackward(yh.ref(), rn.ref(), 3, dyh.ref(), dxh.ref()); gpu.l2NormHeadsBackward(yh.gpu(), rn.gpu(), 3, dyh.gpu(), dxh.gpu());
        check("l2NormHeadsBackward onto zeros", dxh);

        Twin logits = rand(8.0, 17, 130), dl = zeros(17, 130);
        int[] targets = new int[17];
        boolean[] mask = new boolean[17];
        for (int r = 0; r < 17; r++) { targets[r] = rnd.nextInt(130); mask[r] = r % 4 != 1; }
        ref.crossEntropyBackward(logits.ref(), targets, mask, 0.37, dl.ref()); gpu.crossEntropyBackward(logits.gpu(), targets, mask, 0.37, dl.gpu());
        check("crossEntropyBackward onto zeros (masked rows stay zero)", dl);
        Twin dyd = rand(17, 33), ddx = zeros(17, 33);
        ref.dropoutBackward(dyd.ref(), ddx.ref(), 0.3, 7, 3); gpu.dropoutBackward(dyd.gpu(), ddx.gpu(), 0.3, 7, 3);
        check("dropoutBackward onto zeros", ddx);

        Twin whole = rand(3, 7, 17), part = zeros(3, 4, 17), dWhole = zeros(3, 7, 17), dPart = rand(3, 4, 17);
        ref.sliceRowsAccumulate(whole.ref(), 2, part.ref()); gpu.sliceRowsAccumulate(whole.gpu(), 2, part.gpu());
        check("sliceRowsAccumulate onto zeros", part);
        ref.sliceRowsBackward(dPart.ref(), 3, dWhole.ref()); gpu.sliceRowsBackward(dPart.gpu(), 3, dWhole.gpu());
        check("sliceRowsBackward onto zeros (the other rows stay zero)", dWhole);
        Twin cw = rand(33, 20), cpart = zeros(33, 17), dcw = zeros(33, 20), dcp = rand(33, 17);
        ref.sliceColsAccumulate(cw.ref(), 2, cpart.ref()); gpu.sliceColsAccumulate(cw.gpu(), 2, cpart.gpu());
        check("sliceColsAccumulate onto zeros", cpart);
        ref.sliceColsBackward(dcp.ref(), 1, dcw.ref()); gpu.sliceColsBackward(dcp.gpu(), 1, dcw.gpu());
        check("sliceColsBackward onto zeros", dcw);

        Twin cg = rand(17, 33), zg = rand(17, 33), bias = rand(3.0, 33), dOut = rand(17, 33);
        Twin dc = zeros(17, 33), dz = zeros(17, 33), db = zeros(33);
        ref.gateFixedBackward(cg.ref(), zg.ref(), bias.ref(), dOut.ref(), dc.ref(), dz.ref(), db.ref());
        gpu.gateFixedBackward(cg.gpu(), zg.gpu(), bias.gpu(), dOut.gpu(), dc.gpu(), dz.gpu(), db.gpu());
        check("gateFixedBackward dc onto zeros", dc); check("gateFixedBackward dz onto zeros", dz);
        check("gateFixedBackward dBias onto zeros", db);
        Twin table = rand(17, 33), dTable = zeros(17, 33);
        int[] ids = {0, 5, -1, 16, 33, 5, 5, 2};
        Twin dEmb = rand(ids.length, 33);
        ref.embeddingBackward(dEmb.ref(), ids, dTable.ref()); gpu.embeddingBackward(dEmb.gpu(), ids, dTable.gpu());
        check("embeddingBackward onto zeros", dTable);
    }

    /** Attention backward onto fresh gradients: dq (and dk, dv without a window) by beta-0 products, dk dv otherwise filled. */
    @Test
    void attentionBackwardOntoFreshZeros() {
        for (int w : new int[]{0, 4}) {
            int g = 2, h = 3, d = 16, tq = 8, tk = w == 0 ? 11 : 12;
            String what = "attention onto zeros W=" + w;
            Twin q = rand(g, tq, h * d), k = rand(g, tk, h * d), v = rand(g, tk, h * d), temp = rand(4.0, h), rel = rand(2.0, h, 32);
            Window s = window(w, rel, 128, 0.1, 99);
            Twin out = zeros(g, tq, h * d), lse = zeros(g, h, tq);
            attention(q, k, v, h, temp, s, out, lse);
            check(what + " out", out); check(what + " lse", lse);
            Twin dOut = rand(g, tq, h * d), dq = zeros(g, tq, h * d), dk = zeros(g, tk, h * d), dv = zeros(g, tk, h * d);
            Twin dTemp = zeros(h), dRel = zeros(h, 32);
            attentionBackward(q, k, v, h, temp, s, out, lse, dOut, dq, dk, dv, dTemp, dRel);
            check(what + " dq", dq); check(what + " dk", dk); check(what + " dv", dv);
            check(what + " dTemperature", dTemp, 3 * TOL);
            if (w > 0) check(what + " dRelBias", dRel);
        }
    }

    // ---------------------------------------------------------------- optimizers

    @Test
    void adamW() {
        for (int n : SIZES) {
            Twin p = rand(n, 7), g = rand(n, 7), m = rand(0.1, n, 7), v = square(rand(0.1, n, 7));
            for (long step = 1; step <= 3; step++) {
                ref.adamW(p.ref(), g.ref(), m.ref(), v.ref(), 1e-2, 0.9, 0.98, 1e-8, 0.1, step);
                gpu.adamW(p.gpu(), g.gpu(), m.gpu(), v.gpu(), 1e-2, 0.9, 0.98, 1e-8, 0.1, step);
            }
            check("adamW param", p); check("adamW m", m); check("adamW v", v);
        }
    }

    /** Updates of many tensors in a row (one k_adamw_multi launch on CUDA), sizes past one launch's grid, decay per tensor. */
    @Test
    void adamWManyTensorsAtOnce() {
        int[] sizes = {1, 119, 70_001, 600_003};
        Twin[][] ts = new Twin[sizes.length][];
        for (int i = 0; i < sizes.length; i++) {
            ts[i] = new Twin[]{rand(sizes[i]), rand(sizes[i]), zeros(sizes[i]), zeros(sizes[i])};
        }
        for (long step = 1; step <= 3; step++) {
            for (int i = 0; i < sizes.length; i++) {
                Twin[] t = ts[i];
                double wd = i % 2 == 0 ? 0.1 : 0;
                ref.adamW(t[0].ref(), t[1].ref(), t[2].ref(), t[3].ref(), 1e-2, 0.9, 0.98, 1e-8, wd, step);
                gpu.adamW(t[0].gpu(), t[1].gpu(), t[2].gpu(), t[3].gpu(), 1e-2, 0.9, 0.98, 1e-8, wd, step);
            }
            ref.scale(ts[1][1].ref(), -1); gpu.scale(ts[1][1].gpu(), -1);      // another op between steps
        }
        for (int i = 0; i < sizes.length; i++) {
            check("adamW of many, param " + sizes[i], ts[i][0]); check("adamW of many, m " + sizes[i], ts[i][2]);
            check("adamW of many, v " + sizes[i], ts[i][3]);
        }
    }

    private Twin square(Twin t) {
        double[] x = ref.downloadDouble(t.ref());
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i++) y[i] = (float) (x[i] * x[i]);
        return of(y, t.ref().shape());
    }

    @Test
    void adafactorFactoredAndFull() {
        AdafactorSpec spec = new AdafactorSpec(0.9, 0.8, 1e-30, 1e-3, 1.0, true, 3);
        int[][] shapes = {{17, 33}, {33, 17}, {130, 3}, {2, 3, 5}, {17}};
        for (int[] shape : shapes) {
            Twin p = rand(shape), g = rand(shape), m = zeros(shape), v = zeros(shape);
            boolean factored = spec.factored(p.ref());
            Twin vr = zeros(factored ? shape[0] : 1), vc = zeros(factored ? shape[1] : 1);
            for (long step = 0; step < 3; step++) {
                ref.adafactor(p.ref(), g.ref(), m.ref(), v.ref(), vr.ref(), vc.ref(), 0.01, step, spec);
                gpu.adafactor(p.gpu(), g.gpu(), m.gpu(), v.gpu(), vr.gpu(), vc.gpu(), 0.01, step, spec);
            }
            String what = "adafactor " + java.util.Arrays.toString(shape);
            check(what + " param", p); check(what + " m", m);
            if (factored) { check(what + " vRow", vr); check(what + " vCol", vc); } else check(what + " v", v);
        }
        AdafactorSpec noMomentum = new AdafactorSpec(0, 0.8, 1e-30, 1e-3, 1.0, false, 128);
        Twin p = rand(3, 130), g = rand(3, 130), v = zeros(3, 130);
        ref.adafactor(p.ref(), g.ref(), null, v.ref(), null, null, 0.1, 5, noMomentum);
        gpu.adafactor(p.gpu(), g.gpu(), null, v.gpu(), null, null, 0.1, 5, noMomentum);
        check("adafactor without momentum", p);
    }
}
