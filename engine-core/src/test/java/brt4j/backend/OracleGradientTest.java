package brt4j.backend;

import brt4j.backend.Backend.Activation;
import brt4j.backend.ref.ReferenceBackend;
import brt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

/** Every backward op of the float64 oracle against central finite differences ({@link GradCheck}). */
class OracleGradientTest {
    static final double TOL = 1e-6;
    final Backend b = new ReferenceBackend();
    final SplittableRandom rnd = new SplittableRandom(7);

    Tensor rand(double scale, int... shape) {
        int n = 1;
        for (int d : shape) n *= d;
        double[] x = new double[n];
        for (int i = 0; i < n; i++) x[i] = (rnd.nextDouble() * 2 - 1) * scale;
        return b.upload(x, shape);
    }

    Tensor rand(int... shape) { return rand(1.0, shape); }

    static boolean[] all(int n) { boolean[] r = new boolean[n]; java.util.Arrays.fill(r, true); return r; }

    @Test
    void activations() {
        for (Activation f : Activation.values()) {
            Tensor x = rand(3.0, 3, 5);
            GradCheck.check(f.name(), b, 1, new Tensor[]{x}, all(1), () -> {
                Tensor y = b.zeros(3, 5); b.activation(f, x, y); return new Tensor[]{y};
            }, (dOut, dIn) -> {
                Tensor y = b.zeros(3, 5); b.activation(f, x, y);
                b.activationBackward(f, f == Activation.RELU ? x : y, dOut[0], dIn[0]);
            }, TOL);
        }
    }

    @Test
    void rmsNorm() {
        Tensor x = rand(3, 7), g = rand(7);
        GradCheck.check("rmsNorm", b, 2, new Tensor[]{x, g}, all(2), () -> {
            Tensor y = b.zeros(3, 7), r = b.zeros(3); b.rmsNorm(x, g, 1e-6, y, r); return new Tensor[]{y};
        }, (dOut, dIn) -> {
            Tensor y = b.zeros(3, 7), r = b.zeros(3); b.rmsNorm(x, g, 1e-6, y, r);
            b.rmsNormBackward(x, g, r, dOut[0], dIn[0], dIn[1]);
        }, TOL);
    }

    @Test
    void l2NormHeads() {
        Tensor x = rand(3, 12);
        GradCheck.check("l2NormHeads", b, 3, new Tensor[]{x}, all(1), () -> {
            Tensor y = b.zeros(3, 12), r = b.zeros(9); b.l2NormHeads(x, 3, 1e-6, y, r); return new Tensor[]{y};
        }, (dOut, dIn) -> {
            Tensor y = b.zeros(3, 12), r = b.zeros(9); b.l2NormHeads(x, 3, 1e-6, y, r);
            b.l2NormHeadsBackward(y, r, 3, dOut[0], dIn[0]);
        }, TOL);
    }

    @Test
    void embedding() {
        int[] ids = {1, 4, 1, -2, 9};
        Tensor table = rand(5, 3);
        GradCheck.check("embedding", b, 4, new Tensor[]{table}, all(1), () -> {
            Tensor y = b.zeros(5, 3); b.embedding(table, ids, y); return new Tensor[]{y};
        }, (dOut, dIn) -> b.embeddingBackward(dOut[0], ids, dIn[0]), TOL);
    }

    @Test
    void gates() {
        Tensor c = rand(3, 4), z = rand(3, 4), bias = rand(4), f = rand(2.0, 3, 4), i = rand(2.0, 3, 4);
        GradCheck.check("gateFixed", b, 5, new Tensor[]{c, z, bias}, all(3), () -> {
            Tensor y = b.zeros(3, 4); b.gateFixed(c, z, bias, y); return new Tensor[]{y};
        }, (dOut, dIn) -> b.gateFixedBackward(c, z, bias, dOut[0], dIn[0], dIn[1], dIn[2]), TOL);
        GradCheck.check("gateLstm", b, 6, new Tensor[]{c, z, f, i}, all(4), () -> {
            Tensor y = b.zeros(3, 4); b.gateLstm(c, z, f, i, y); return new Tensor[]{y};
        }, (dOut, dIn) -> b.gateLstmBackward(c, z, f, i, dOut[0], dIn[0], dIn[1], dIn[2], dIn[3]), TOL);
    }

    @Test
    void crossEntropy() {
        Tensor logits = rand(3.0, 4, 7);
        int[] targets = {2, 9, -1, 6};
        boolean[] mask = {true, true, false, true};
        GradCheck.check("crossEntropy", b, 7, new Tensor[]{logits}, all(1), () -> {
            Tensor rl = b.zeros(4);
            return new Tensor[]{b.upload(new double[]{b.crossEntropy(logits, targets, mask, rl)}, 1)};
        }, (dOut, dIn) -> b.crossEntropyBackward(logits, targets, mask, b.downloadDouble(dOut[0])[0], dIn[0]), TOL);
    }

    @Test
    void dropoutSlicesSelectBroadcast() {
        Tensor x = rand(5, 6);
        GradCheck.check("dropout", b, 8, new Tensor[]{x}, all(1), () -> {
            Tensor y = b.zeros(5, 6); b.dropout(x, y, 0.4, 99, 2); return new Tensor[]{y};
        }, (dOut, dIn) -> b.dropoutBackward(dOut[0], dIn[0], 0.4, 99, 2), TOL);

        Tensor whole = rand(2, 5, 3);
        GradCheck.check("sliceRows", b, 9, new Tensor[]{whole}, all(1), () -> {
            Tensor y = b.zeros(2, 3, 3); b.sliceRows(whole, 1, y); return new Tensor[]{y};
        }, (dOut, dIn) -> b.sliceRowsBackward(dOut[0], 1, dIn[0]), TOL);

        Tensor wide = rand(4, 6);
        GradCheck.check("sliceCols", b, 10, new Tensor[]{wide}, all(1), () -> {
            Tensor y = b.zeros(4, 2); b.sliceCols(wide, 3, y); return new Tensor[]{y};
        }, (dOut, dIn) -> b.sliceColsBackward(dOut[0], 3, dIn[0]), TOL);

        boolean[] take = {false, true, false};
        Tensor a = rand(2, 3), carried = rand(3, 2, 3);
        GradCheck.check("selectBatch", b, 11, new Tensor[]{a, carried}, all(2), () -> {
            Tensor y = b.zeros(3, 2, 3); b.selectBatch(take, a, carried, y); return new Tensor[]{y};
        }, (dOut, dIn) -> b.selectBatchBackward(take, dOut[0], dIn[0], dIn[1]), TOL);

        Tensor v = rand(3);
        GradCheck.check("addBroadcast", b, 12, new Tensor[]{x, v}, all(2), () -> {
            Tensor y = b.zeros(5, 6); b.addBroadcast(x, v, y); return new Tensor[]{y};
        }, (dOut, dIn) -> { b.axpy(1, dOut[0], dIn[0]); b.sumBroadcast(dOut[0], dIn[1]); }, TOL);

        Tensor p1 = rand(2, 2, 3), p2 = rand(2, 1, 3);
        GradCheck.check("concatRows via sliceRowsBackward", b, 13, new Tensor[]{p1, p2}, all(2), () -> {
            Tensor y = b.zeros(2, 3, 3); b.concatRows(List.of(p1, p2), y); return new Tensor[]{y};
        }, (dOut, dIn) -> {
            Tensor t1 = b.zeros(2, 2, 3), t2 = b.zeros(2, 1, 3);
            b.sliceRows(dOut[0], 0, t1); b.sliceRows(dOut[0], 2, t2);
            b.axpy(1, t1, dIn[0]); b.axpy(1, t2, dIn[1]);
        }, TOL);
    }

    @Test
    void slidingAttentionWithDropout() { attention(2, 3, 3, 2, 0.3); }

    @Test
    void slidingAttentionWindowOne() { attention(1, 2, 1, 3, 0); }

    @Test
    void fullAttention() { attention(2, 2, 0, 0, 0); }

    /** G groups, H heads, D = 3; window w (0: no window), or Tq = 4 and Tk = 5 without one. */
    private void attention(int g, int h, int w, int blocks, double rate) {
        int d = 3, tq = w == 0 ? 4 : w * blocks, tk = w == 0 ? 5 : tq + w;
        Tensor q = rand(g, tq, h * d), k = rand(g, tk, h * d), v = rand(g, tk, h * d), temp = rand(3.0, h), rel = rand(h, 32);
        Sliding s = w == 0 ? null : new Sliding(w, rel, 128, rate, 5);
        Tensor[] inputs = w == 0 ? new Tensor[]{q, k, v, temp} : new Tensor[]{q, k, v, temp, rel};
        Supplier3 fwd = () -> {
            Tensor out = b.zeros(g, tq, h * d), lse = b.zeros(g, h, tq);
            b.attention(q, k, v, h, temp, s, out, lse);
            return new Tensor[]{out, lse};
        };
        GradCheck.check("attention W=" + w + " rate=" + rate, b, 14, inputs, all(inputs.length),
                () -> new Tensor[]{fwd.get()[0]},
                (dOut, dIn) -> {
                    Tensor[] o = fwd.get();
                    b.attentionBackward(q, k, v, h, temp, s, o[0], o[1], dOut[0], dIn[0], dIn[1], dIn[2], dIn[3],
                            w == 0 ? null : dIn[4]);
                }, TOL);
    }

    private interface Supplier3 { Tensor[] get(); }
}
