package brt4j.backend;

import brt4j.backend.Backend.Activation;
import brt4j.backend.cpu.CpuBackend;
import brt4j.backend.ref.ReferenceBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

/**
 * Differential tests: every op of the Vector API backend against the float64 oracle, on fresh random inputs at
 * awkward sizes (1, 3, 17, 33, 130: not only multiples of the vector width), forward and backward, within
 * {@link Compare#FLOAT32}. Backward outputs start from random values, which checks that gradients are added.
 * Runs with two threads here, with one in {@link CpuVsOracleSingleThreadTest}, and at 128 and 256 bits in
 * {@link NarrowVectorWidthTest}.
 */
public class CpuVsOracleTest {
    static final int[] SIZES = {1, 3, 17, 33, 130};

    protected Backend ref;
    protected CpuBackend cpu;
    protected Twin.Maker mk;

    protected int threads() { return 2; }

    @BeforeEach
    void setUp() {
        ref = new ReferenceBackend();
        cpu = new CpuBackend(threads());
        mk = new Twin.Maker(ref, cpu, new SplittableRandom(20240611L + threads()));
    }

    @AfterEach
    void tearDown() { cpu.close(); }

    // ---------------------------------------------------------------- matmul

    @Test
    void matmulAllTransposesAwkwardSizes() {
        for (int m : SIZES) for (int n : SIZES) for (int k : new int[]{1, 17, 130}) {
            for (int t = 0; t < 4; t++) {
                boolean ta = (t & 1) != 0, tb = (t & 2) != 0;
                matmulCase(1, m, n, k, ta, tb, 1.0, 0.0);
            }
        }
    }

    @Test
    void matmulAlphaBetaBatchedAndBlocked() {
        matmulCase(3, 17, 33, 5, false, false, 0.5, 1.0);
        matmulCase(4, 130, 3, 33, true, false, -2.0, 0.25);
        matmulCase(2, 33, 70, 17, false, true, 1.0, 1.0);
        matmulCase(1, 200, 300, 600, false, false, 1.0, 0.5);   // several KC blocks and MC blocks, both threads
        matmulCase(1, 97, 1100, 64, true, true, 1.0, 0.0);      // wider than one NC block
        matmulCase(1, 1, 1031, 300, false, true, 1.0, 0.5);      // one token: rows of b in fours plus a tail, two chunks
    }

    @Test
    void matmulBetaZeroIgnoresNaN() {
        Twin a = mk.rand(3, 17), b = mk.rand(17, 5);
        float[] nan = new float[15];
        java.util.Arrays.fill(nan, Float.NaN);
        Twin c = mk.of(nan, 3, 5);
        ref.matmul(a.ref(), false, b.ref(), false, c.ref(), 1, 0);
        cpu.matmul(a.fast(), false, b.fast(), false, c.fast(), 1, 0);
        mk.check("matmul beta 0 over NaN", c);
    }

    private void matmulCase(int batch, int m, int n, int k, boolean ta, boolean tb, double alpha, double beta) {
        Twin a = ta ? mk.rand(batch, k, m) : mk.rand(batch, m, k);
        Twin b = tb ? mk.rand(batch, n, k) : mk.rand(batch, k, n);
        Twin c = mk.rand(batch, m, n);
        ref.batchedMatmul(batch, a.ref(), ta, b.ref(), tb, c.ref(), alpha, beta);
        cpu.batchedMatmul(batch, a.fast(), ta, b.fast(), tb, c.fast(), alpha, beta);
        mk.check("matmul batch " + batch + " " + m + "x" + k + (ta ? "^T" : "") + " . " + k + "x" + n + (tb ? "^T" : ""), c);
    }

    // ---------------------------------------------------------------- elementwise

    @Test
    void elementwiseOps() {
        for (int n : SIZES) {
            Twin a = mk.rand(n, 3), b = mk.rand(n, 3), out = mk.zeros(n, 3);
            ref.add(a.ref(), b.ref(), out.ref()); cpu.add(a.fast(), b.fast(), out.fast());
            mk.check("add", out);
            ref.axpy(-0.7, a.ref(), b.ref()); cpu.axpy(-0.7, a.fast(), b.fast());
            mk.check("axpy", b);
            ref.scale(a.ref(), 1.7); cpu.scale(a.fast(), 1.7);
            mk.check("scale", a);
            Twin v = mk.rand(3);
            ref.addBroadcast(a.ref(), v.ref(), out.ref()); cpu.addBroadcast(a.fast(), v.fast(), out.fast());
            mk.check("addBroadcast", out);
            ref.sumBroadcast(a.ref(), v.ref()); cpu.sumBroadcast(a.fast(), v.fast());
            mk.check("sumBroadcast", v);
            assertNear("sumSquares", cpu.sumSquares(a.fast()), ref.sumSquares(a.ref()));
        }
        Twin big = mk.rand(70_001), v = mk.rand(7);
        Twin out = mk.zeros(70_001);
        ref.addBroadcast(big.ref(), mk.rand(1).ref(), out.ref());
        assertNear("sumSquares large", cpu.sumSquares(big.fast()), ref.sumSquares(big.ref()));
        Twin big2 = mk.rand(10_003, 7);
        ref.sumBroadcast(big2.ref(), v.ref()); cpu.sumBroadcast(big2.fast(), v.fast());
        mk.check("sumBroadcast large", v);
    }

    private static void assertNear(String what, double got, double want) {
        Compare.assertClose(what, new double[]{got}, new double[]{want}, Compare.FLOAT32);
    }

    @Test
    void activations() {
        for (Activation f : Activation.values()) {
            for (int n : SIZES) {
                Twin x = mk.rand(4.0, n, 7), y = mk.zeros(n, 7), dy = mk.rand(n, 7), dx = mk.rand(n, 7);
                ref.activation(f, x.ref(), y.ref()); cpu.activation(f, x.fast(), y.fast());
                mk.check(f + " forward", y);
                Twin saved = f == Activation.RELU ? x : y;
                ref.activationBackward(f, saved.ref(), dy.ref(), dx.ref());
                cpu.activationBackward(f, saved.fast(), dy.fast(), dx.fast());
                mk.check(f + " backward", dx);
            }
        }
    }

    // ---------------------------------------------------------------- norms

    @Test
    void rmsNorm() {
        for (int rows : SIZES) for (int cols : new int[]{1, 3, 17, 130}) {
            Twin x = mk.rand(rows, cols), g = mk.rand(cols), out = mk.zeros(rows, cols), rstd = mk.zeros(rows);
            ref.rmsNorm(x.ref(), g.ref(), 1e-6, out.ref(), rstd.ref()); cpu.rmsNorm(x.fast(), g.fast(), 1e-6, out.fast(), rstd.fast());
            mk.check("rmsNorm out", out); mk.check("rmsNorm rstd", rstd);
            Twin dy = mk.rand(rows, cols), dx = mk.rand(rows, cols), dg = mk.rand(cols);
            ref.rmsNormBackward(x.ref(), g.ref(), rstd.ref(), dy.ref(), dx.ref(), dg.ref());
            cpu.rmsNormBackward(x.fast(), g.fast(), rstd.fast(), dy.fast(), dx.fast(), dg.fast());
            mk.check("rmsNormBackward dx", dx); mk.check("rmsNormBackward dScale", dg);
        }
    }

    @Test
    void l2NormHeads() {
        for (int rows : SIZES) for (int heads : new int[]{1, 3}) for (int hd : new int[]{2, 17, 33}) {
            // (hd = 1 is left out: there y = +-1 and the gradient, O(eps / x^2), is below float32's resolution of y)
            Twin x = mk.rand(rows, heads * hd), out = mk.zeros(rows, heads * hd), rn = mk.zeros(rows * heads);
            ref.l2NormHeads(x.ref(), heads, 1e-6, out.ref(), rn.ref()); cpu.l2NormHeads(x.fast(), heads, 1e-6, out.fast(), rn.fast());
            mk.check("l2NormHeads out", out); mk.check("l2NormHeads rnorm", rn);
            Twin dy = mk.rand(rows, heads * hd), dx = mk.rand(rows, heads * hd);
            ref.l2NormHeadsBackward(out.ref(), rn.ref(), heads, dy.ref(), dx.ref());
            cpu.l2NormHeadsBackward(out.fast(), rn.fast(), heads, dy.fast(), dx.fast());
            mk.check("l2NormHeadsBackward", dx);
        }
    }

    // ---------------------------------------------------------------- embedding, gates, dropout

    @Test
    void embedding() {
        int[] ids = {0, 5, -1, 16, 33, 5, 5, 2};
        for (int cols : new int[]{1, 17, 33}) {
            Twin table = mk.rand(17, cols), out = mk.zeros(ids.length, cols);
            ref.embedding(table.ref(), ids, out.ref()); cpu.embedding(table.fast(), ids, out.fast());
            mk.check("embedding", out);
            Twin dOut = mk.rand(ids.length, cols), dTable = mk.rand(17, cols);
            ref.embeddingBackward(dOut.ref(), ids, dTable.ref()); cpu.embeddingBackward(dOut.fast(), ids, dTable.fast());
            mk.check("embeddingBackward", dTable);
        }
    }

    @Test
    void gates() {
        for (int rows : SIZES) for (int cols : new int[]{1, 17, 33}) {
            Twin c = mk.rand(rows, cols), z = mk.rand(rows, cols), bias = mk.rand(3.0, cols), out = mk.zeros(rows, cols);
            ref.gateFixed(c.ref(), z.ref(), bias.ref(), out.ref()); cpu.gateFixed(c.fast(), z.fast(), bias.fast(), out.fast());
            mk.check("gateFixed", out);
            Twin dOut = mk.rand(rows, cols), dc = mk.rand(rows, cols), dz = mk.rand(rows, cols), db = mk.rand(cols);
            ref.gateFixedBackward(c.ref(), z.ref(), bias.ref(), dOut.ref(), dc.ref(), dz.ref(), db.ref());
            cpu.gateFixedBackward(c.fast(), z.fast(), bias.fast(), dOut.fast(), dc.fast(), dz.fast(), db.fast());
            mk.check("gateFixedBackward dc", dc); mk.check("gateFixedBackward dz", dz); mk.check("gateFixedBackward dBias", db);

            Twin f = mk.rand(3.0, rows, cols), i = mk.rand(3.0, rows, cols);
            ref.gateLstm(c.ref(), z.ref(), f.ref(), i.ref(), out.ref()); cpu.gateLstm(c.fast(), z.fast(), f.fast(), i.fast(), out.fast());
            mk.check("gateLstm", out);
            Twin df = mk.rand(rows, cols), di = mk.rand(rows, cols);
            ref.gateLstmBackward(c.ref(), z.ref(), f.ref(), i.ref(), dOut.ref(), dc.ref(), dz.ref(), df.ref(), di.ref());
            cpu.gateLstmBackward(c.fast(), z.fast(), f.fast(), i.fast(), dOut.fast(), dc.fast(), dz.fast(), df.fast(), di.fast());
            mk.check("gateLstmBackward dc", dc); mk.check("gateLstmBackward dz", dz);
            mk.check("gateLstmBackward dfPre", df); mk.check("gateLstmBackward diPre", di);
        }
    }

    @Test
    void dropout() {
        for (int tile : new int[]{0, 3, 128}) for (int rows : SIZES) {
            Twin x = mk.rand(rows, 17), out = mk.rand(rows, 17), dx = mk.rand(rows, 17);
            ref.dropout(x.ref(), out.ref(), 0.3, 77, tile); cpu.dropout(x.fast(), out.fast(), 0.3, 77, tile);
            mk.check("dropout", out);
            ref.dropoutBackward(x.ref(), dx.ref(), 0.3, 77, tile); cpu.dropoutBackward(x.fast(), dx.fast(), 0.3, 77, tile);
            mk.check("dropoutBackward", dx);
        }
    }

    // ---------------------------------------------------------------- cross-entropy

    @Test
    void crossEntropy() {
        for (int v : new int[]{1, 3, 17, 130, 32_003}) {
            int rows = v > 1000 ? 3 : 17;
            Twin logits = mk.rand(8.0, rows, v), loss = mk.zeros(rows), dl = mk.rand(rows, v);
            int[] targets = new int[rows];
            boolean[] mask = new boolean[rows];
            for (int r = 0; r < rows; r++) { targets[r] = mk.rnd().nextInt(-v, 2 * v); mask[r] = r % 4 != 1; }
            double a = ref.crossEntropy(logits.ref(), targets, mask, loss.ref());
            double b = cpu.crossEntropy(logits.fast(), targets, mask, loss.fast());
            mk.check("crossEntropy rowLoss V=" + v, loss);
            Compare.assertClose("crossEntropy total", new double[]{b}, new double[]{a}, Compare.FLOAT32);
            Twin dl2 = mk.rand(rows, v);
            ref.crossEntropyBackward(logits.ref(), targets, mask, 0.37, dl.ref());
            cpu.crossEntropyBackward(logits.fast(), targets, mask, 0.37, dl.fast());
            mk.check("crossEntropyBackward V=" + v, dl);
            // the same from the forward's row losses (the log-sum-exp not recomputed)
            ref.crossEntropyBackward(logits.ref(), targets, mask, 0.37, dl2.ref(), loss.ref());
            cpu.crossEntropyBackward(logits.fast(), targets, mask, 0.37, dl2.fast(), loss.fast());
            mk.check("crossEntropyBackward from rowLoss V=" + v, dl2);
            // both in one call: into fresh zeros (the CPU's one-pass path) and added to a gradient (forward + backward)
            for (Twin g : new Twin[]{mk.zeros(rows, v), mk.rand(rows, v)}) {
                Twin loss3 = mk.zeros(rows);
                double a3 = ref.crossEntropyWithGradient(logits.ref(), targets, mask, 0.37, loss3.ref(), g.ref());
                double b3 = cpu.crossEntropyWithGradient(logits.fast(), targets, mask, 0.37, loss3.fast(), g.fast());
                mk.check("crossEntropyWithGradient rowLoss V=" + v, loss3);
                Compare.assertClose("crossEntropyWithGradient total", new double[]{b3}, new double[]{a3}, Compare.FLOAT32);
                mk.check("crossEntropyWithGradient dLogits V=" + v, g);
            }
        }
    }

    // ---------------------------------------------------------------- rows, columns, batch select

    @Test
    void slicesAndSelect() {
        Twin a = mk.rand(3, 2, 17), b = mk.rand(3, 5, 17), out = mk.zeros(3, 7, 17);
        ref.concatRows(List.of(a.ref(), b.ref()), out.ref()); cpu.concatRows(List.of(a.fast(), b.fast()), out.fast());
        mk.check("concatRows", out);
        Twin part = mk.zeros(3, 4, 17), dWhole = mk.rand(3, 7, 17), dPart = mk.rand(3, 4, 17);
        ref.sliceRows(out.ref(), 2, part.ref()); cpu.sliceRows(out.fast(), 2, part.fast());
        mk.check("sliceRows", part);
        ref.sliceRowsBackward(dPart.ref(), 3, dWhole.ref()); cpu.sliceRowsBackward(dPart.fast(), 3, dWhole.fast());
        mk.check("sliceRowsBackward", dWhole);

        Twin c1 = mk.rand(33, 3), c2 = mk.rand(33, 17), cat = mk.zeros(33, 20);
        ref.concatCols(List.of(c1.ref(), c2.ref()), cat.ref()); cpu.concatCols(List.of(c1.fast(), c2.fast()), cat.fast());
        mk.check("concatCols", cat);
        Twin cp = mk.zeros(33, 17), dCat = mk.rand(33, 20), dCp = mk.rand(33, 17);
        ref.sliceCols(cat.ref(), 1, cp.ref()); cpu.sliceCols(cat.fast(), 1, cp.fast());
        mk.check("sliceCols", cp);
        ref.sliceColsBackward(dCp.ref(), 3, dCat.ref()); cpu.sliceColsBackward(dCp.fast(), 3, dCat.fast());
        mk.check("sliceColsBackward", dCat);

        boolean[] take = {true, false, true, false};
        Twin init = mk.rand(5, 17), carried = mk.rand(4, 5, 17), sel = mk.zeros(4, 5, 17);
        ref.selectBatch(take, init.ref(), carried.ref(), sel.ref()); cpu.selectBatch(take, init.fast(), carried.fast(), sel.fast());
        mk.check("selectBatch", sel);
        Twin dSel = mk.rand(4, 5, 17), dA = mk.rand(5, 17), dB = mk.rand(4, 5, 17);
        ref.selectBatchBackward(take, dSel.ref(), dA.ref(), dB.ref()); cpu.selectBatchBackward(take, dSel.fast(), dA.fast(), dB.fast());
        mk.check("selectBatchBackward dA", dA); mk.check("selectBatchBackward dB", dB);
        ref.selectBatchBackward(take, dSel.ref(), dA.ref(), null); cpu.selectBatchBackward(take, dSel.fast(), dA.fast(), null);
        mk.check("selectBatchBackward dA (no dB)", dA);
    }

    // ---------------------------------------------------------------- attention

    @Test
    void slidingAttention() {
        for (int w : new int[]{1, 3, 8, 17}) for (int d : new int[]{3, 16, 17}) for (double rate : new double[]{0, 0.2}) {
            attentionCase(2, 3, d, w, 2 * w, 3 * w, rate);
        }
    }

    @Test
    void slidingAttentionLargerTiles() {
        attentionCase(1, 2, 64, 40, 80, 120, 0);     // query tiles of 32 plus a remainder of 8
        attentionCase(1, 2, 33, 70, 70, 140, 0.1);
        // two blocks of 70 queries: backward tiles of 64 and 6 rows, so the key groups of dk/dv see partial row ranges
        attentionCase(2, 2, 16, 70, 140, 210, 0.1);
    }

    @Test
    void slidingAttentionPartialLastBlock() {           // queries not a multiple of the window: generation
        attentionCase(1, 2, 16, 8, 1, 9, 0);
        attentionCase(2, 3, 17, 8, 13, 21, 0.2);
        attentionCase(1, 2, 64, 40, 75, 115, 0);
    }

    @Test
    void fullAttention() {
        attentionCase(2, 3, 17, 0, 5, 7, 0);
        attentionCase(1, 2, 16, 0, 33, 130, 0);
        attentionCase(2, 1, 1, 0, 3, 1, 0);
        attentionCase(1, 4, 64, 0, 70, 40, 0);
    }

    @Test
    void windowAttentionReadsTheWindowInPlace() {
        // (G, H, D, W, Tq, T, start): one token and small chunks (DecodeAttention), a block (the copying default),
        // the window at the buffer's start and end, odd sizes everywhere.
        int[][] cases = {{1, 2, 16, 8, 1, 16, 3}, {2, 3, 17, 5, 1, 10, 0}, {2, 3, 17, 5, 1, 10, 4}, {1, 1, 3, 1, 1, 2, 0},
                {2, 2, 33, 9, 3, 18, 6}, {1, 4, 64, 40, 1, 80, 39}, {1, 2, 64, 33, 8, 66, 25}, {2, 3, 17, 7, 7, 14, 0},
                {1, 2, 16, 12, 12, 24, 0}, {1, 3, 5, 130, 1, 261, 130}};
        for (int[] c : cases) {
            int g = c[0], h = c[1], d = c[2], w = c[3], tq = c[4], t = c[5], start = c[6];
            String what = "windowAttention G=" + g + " H=" + h + " D=" + d + " W=" + w + " Tq=" + tq + " T=" + t + " start=" + start;
            Twin q = mk.rand(g, tq, h * d), keys = mk.rand(g, t, h * d), values = mk.rand(g, t, h * d);
            Twin temp = mk.rand(4.0, h), rel = mk.rand(2.0, h, 32), out = mk.rand(g, tq, h * d);
            ref.windowAttention(q.ref(), keys.ref(), values.ref(), start, h, temp.ref(), new Sliding(w, rel.ref(), 128), out.ref());
            cpu.windowAttention(q.fast(), keys.fast(), values.fast(), start, h, temp.fast(), new Sliding(w, rel.fast(), 128), out.fast());
            mk.check(what, out);
        }
    }

    private void attentionCase(int g, int h, int d, int w, int tq, int tk, double rate) {
        String what = "attention G=" + g + " H=" + h + " D=" + d + " W=" + w + " Tq=" + tq + " Tk=" + tk + " rate=" + rate;
        Twin q = mk.rand(g, tq, h * d), k = mk.rand(g, tk, h * d), v = mk.rand(g, tk, h * d);
        Twin temp = mk.rand(4.0, h), rel = mk.rand(2.0, h, 32);
        Sliding sr = w == 0 ? null : new Sliding(w, rel.ref(), 128, rate, 1234);
        Sliding sf = w == 0 ? null : new Sliding(w, rel.fast(), 128, rate, 1234);
        Twin out = mk.zeros(g, tq, h * d), lse = mk.zeros(g, h, tq);
        ref.attention(q.ref(), k.ref(), v.ref(), h, temp.ref(), sr, out.ref(), lse.ref());
        cpu.attention(q.fast(), k.fast(), v.fast(), h, temp.fast(), sf, out.fast(), lse.fast());
        mk.check(what + " out", out);
        mk.check(what + " lse", lse);
        Twin dOut = mk.rand(g, tq, h * d), dq = mk.rand(g, tq, h * d), dk = mk.rand(g, tk, h * d), dv = mk.rand(g, tk, h * d);
        Twin dTemp = mk.rand(h), dRel = mk.rand(h, 32);
        ref.attentionBackward(q.ref(), k.ref(), v.ref(), h, temp.ref(), sr, out.ref(), lse.ref(), dOut.ref(),
                dq.ref(), dk.ref(), dv.ref(), dTemp.ref(), w == 0 ? null : dRel.ref());
        cpu.attentionBackward(q.fast(), k.fast(), v.fast(), h, temp.fast(), sf, out.fast(), lse.fast(), dOut.fast(),
                dq.fast(), dk.fast(), dv.fast(), dTemp.fast(), w == 0 ? null : dRel.fast());
        mk.check(what + " dq", dq); mk.check(what + " dk", dk); mk.check(what + " dv", dv);
        mk.check(what + " dTemperature", dTemp);
        if (w > 0) mk.check(what + " dRelBias", dRel);
    }

    // ---------------------------------------------------------------- optimizers

    @Test
    void adamW() {
        for (int n : SIZES) {
            Twin p = mk.rand(n, 7), g = mk.rand(n, 7), m = mk.rand(0.1, n, 7), v = mk.rand(0.01, n, 7);
            square(v);                                  // v must be non-negative
            for (long step = 1; step <= 3; step++) {
                ref.adamW(p.ref(), g.ref(), m.ref(), v.ref(), 1e-2, 0.9, 0.98, 1e-8, 0.1, step);
                cpu.adamW(p.fast(), g.fast(), m.fast(), v.fast(), 1e-2, 0.9, 0.98, 1e-8, 0.1, step);
            }
            mk.check("adamW param", p); mk.check("adamW m", m); mk.check("adamW v", v);
        }
    }

    private void square(Twin t) {
        double[] x = ref.downloadDouble(t.ref());
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i++) y[i] = (float) (x[i] * x[i]);
        ref.copy(ref.upload(y, t.ref().shape()), t.ref());
        cpu.copy(cpu.upload(y, t.fast().shape()), t.fast());
    }

    @Test
    void adafactorFactoredAndFull() {
        AdafactorSpec spec = new AdafactorSpec(0.9, 0.8, 1e-30, 1e-3, 1.0, true, 3);
        int[][] shapes = {{17, 33}, {33, 17}, {130, 3}, {2, 3, 5}, {17}};
        for (int[] shape : shapes) {
            Twin p = mk.rand(shape), g = mk.rand(shape), m = mk.zeros(shape), v = mk.zeros(shape);
            boolean factored = spec.factored(p.ref());
            Twin vr = mk.zeros(factored ? shape[0] : 1), vc = mk.zeros(factored ? shape[1] : 1);
            for (long step = 0; step < 3; step++) {
                ref.adafactor(p.ref(), g.ref(), m.ref(), v.ref(), vr.ref(), vc.ref(), 0.01, step, spec);
                cpu.adafactor(p.fast(), g.fast(), m.fast(), v.fast(), vr.fast(), vc.fast(), 0.01, step, spec);
            }
            String what = "adafactor " + java.util.Arrays.toString(shape);
            mk.check(what + " param", p); mk.check(what + " m", m);
            if (factored) { mk.check(what + " vRow", vr); mk.check(what + " vCol", vc); } else mk.check(what + " v", v);
        }
        AdafactorSpec noMomentum = new AdafactorSpec(0, 0.8, 1e-30, 1e-3, 1.0, false, 128);
        Twin p = mk.rand(3, 130), g = mk.rand(3, 130), v = mk.zeros(3, 130);
        ref.adafactor(p.ref(), g.ref(), null, v.ref(), null, null, 0.1, 5, noMomentum);
        cpu.adafactor(p.fast(), g.fast(), null, v.fast(), null, null, 0.1, 5, noMomentum);
        mk.check("adafactor without momentum", p);
    }
}
