package brt4j.backend.cpu;

import brt4j.backend.AdafactorSpec;
import brt4j.backend.Backend;
import brt4j.backend.RowSource;
import brt4j.backend.Sliding;
import brt4j.tensor.Tensor;

import java.util.Arrays;
import java.util.List;

/**
 * The fast CPU backend: float32 storage, every kernel on {@code jdk.incubator.vector} (width {@link Vec#F}, forced
 * narrower with {@code -Dbrt.vector.bits}), multithreaded on a fixed pool of {@code threads} threads (default: the
 * available processors, or {@code -Dbrt.threads}). This class only routes: each family of kernels lives in its
 * own file ({@link Matmul}, {@link FusedAttention}, {@link DecodeAttention}, {@link Norms}, {@link Elementwise}, {@link CrossEntropy},
 * {@link Optimizers}). The oracle it is tested against is {@link brt4j.backend.ref.ReferenceBackend}.
 *
 * <p>Repeatability: a run gives the same bits every time for a given thread count, in the interpreter and after
 * C2 has compiled it (training resume is bit-identical): transcendentals go through {@link Vec#exp} (IEEE add, mul
 * and fma only) and StrictMath, never {@code lanewise(EXP)} or Math.exp, whose intrinsics differ from the
 * interpreter's results in the last bits; and {@link CpuPool} deals chunks to workers in a fixed order.
 *
 * <p>Precision: float32 everywhere, accumulation in float32 vectors with double for scalar statistics; agreement
 * with the oracle is tested to 1e-5 relative (max abs difference over max abs oracle value per tensor).
 */
public final class CpuBackend extends Backend {
    private final CpuPool pool;
    private final Matmul matmul;
    private final FusedAttention attention;
    private final DecodeAttention decodeAttention;
    private final ArrayPool arrays = new ArrayPool();

    public CpuBackend() { this(Integer.getInteger("brt.threads", Runtime.getRuntime().availableProcessors())); }

    public CpuBackend(int threads) {
        this.pool = new CpuPool(threads);
        this.matmul = new Matmul(pool);
        this.attention = new FusedAttention(pool);
        this.decodeAttention = new DecodeAttention(pool);
    }

    /** Threads that compute (the caller included). */
    public int threads() { return pool.threads(); }

    /** Bits of the vector species in use. */
    public static int vectorBits() { return Vec.F.vectorBitSize(); }

    @Override public String name() { return "cpu"; }

    @Override public int precisionBits() { return 32; }

    @Override public Tensor zeros(int... shape) {
        long n = 1;
        for (int d : shape) n *= Math.max(d, 0);
        int size = (int) Math.min(n, Integer.MAX_VALUE);
        float[] kept = arrays.takeKept(size);
        return new FloatTensor(this, kept != null ? new FloatTensor.Storage(kept, true) : new FloatTensor.Storage(new float[size], false), shape);
    }

    /** Retires a tensor's handle; its array is kept for reuse once no view of it is left (see {@link ArrayPool}). */
    @Override public void free(Tensor t) {
        if (t instanceof FloatTensor x) {
            float[] unused = x.release();
            if (unused != null) arrays.give(unused);
        }
    }

    static float[] f(Tensor t) { return ((FloatTensor) t).data(); }

    /** The array of an output the op writes whole before reading it (a reused array is then not cleared first). */
    static float[] out(Tensor t) { return ((FloatTensor) t).dataForOverwrite(); }

    /** Whether an accumulation into t may overwrite it instead: t is all zeros, its array not yet cleared. */
    private static boolean freshZeros(Tensor t) { return t instanceof FloatTensor x && x.zeroPending(); }

    /** The storage of a tensor of this backend (shared, not copied): for benchmarks and tests. */
    public float[] storage(Tensor t) { return f(t); }

    @Override protected void doUpload(float[] data, Tensor t) { System.arraycopy(data, 0, data.length == t.size() ? out(t) : f(t), 0, data.length); }

    @Override protected void doUpload(double[] data, Tensor t) {
        float[] x = f(t);
        for (int i = 0; i < data.length; i++) x[i] = (float) data[i];
    }

    @Override protected float[] doDownload(Tensor t) {
        return t instanceof Int8Tensor q ? Int8Kernels.dequantize(q) : Arrays.copyOf(f(t), t.size());
    }

    @Override protected double[] doDownloadDouble(Tensor t) {
        float[] x = t instanceof Int8Tensor q ? Int8Kernels.dequantize(q) : f(t);
        double[] r = new double[t.size()];
        for (int i = 0; i < r.length; i++) r[i] = x[i];
        return r;
    }

    @Override protected Tensor doQuantizeInt8(Tensor w) { return Int8Kernels.quantize(this, f(w), w.rows(), w.cols()); }

    @Override protected Tensor doQuantizeInt8(int rows, int cols, RowSource src) { return Int8Kernels.quantize(this, rows, cols, src); }

    @Override protected Tensor doView(Tensor t, int[] shape) {
        FloatTensor x = (FloatTensor) t;
        x.checkLive();                                  // a freed tensor has no views (a pending clear stays pending: the storage is shared)
        return new FloatTensor(this, x.storage(), shape);
    }

    @Override protected void doCopy(Tensor src, Tensor dst) { System.arraycopy(f(src), 0, f(dst), 0, src.size()); }

    /**
     * Zeros over a whole array are written lazily, as for a reused array: the next op that reads the tensor clears
     * it, one that writes it whole or accumulates into it first skips that. A step's zeroed gradients (30 MB for the
     * laptop model) were otherwise cleared here and then overwritten by their first product.
     */
    @Override protected void doFill(Tensor t, double value) {
        if (Double.doubleToRawLongBits(value) == 0 && t instanceof FloatTensor x && x.storage().data.length == t.size()) {
            x.checkLive();
            x.storage().zeroPending = true;
            return;
        }
        Arrays.fill(f(t), 0, t.size(), (float) value);
    }

    @Override protected void doMatmul(int batch, int m, int n, int k, Tensor a, boolean transA, Tensor b, boolean transB,
                                      Tensor c, double alpha, double beta) {
        if (b instanceof Int8Tensor q) {
            Int8Kernels.matmulTransB(pool, matmul, m, n, k, f(a), q, f(c), (float) alpha, (float) beta);
            return;
        }
        if (batch == 1 && !transA && transB && m == 1) {
            SkinnyGemm.vectorTimesTransposed(pool, n, k, f(a), f(b), f(c), (float) alpha, (float) beta);
            return;
        }
        // beta 0 overwrites c; so does accumulating into a fresh gradient (its first contribution: no c to read)
        if (beta == 1 && freshZeros(c)) beta = 0;
        matmul.gemm(batch, m, n, k, f(a), transA, f(b), transB, beta == 0 ? out(c) : f(c), (float) alpha, (float) beta);
    }

    @Override protected void doAdd(Tensor a, Tensor b, Tensor out) { Elementwise.add(pool, f(a), f(b), out(out), out.size()); }

    @Override protected void doAxpy(double alpha, Tensor x, Tensor y) {
        if (freshZeros(y) && x.size() == y.size()) Elementwise.scaleInto(pool, (float) alpha, f(x), out(y), x.size());
        else Elementwise.axpy(pool, (float) alpha, f(x), f(y), x.size());
    }

    @Override protected void doScale(Tensor x, double alpha) { Elementwise.scale(pool, f(x), (float) alpha, x.size()); }

    @Override protected void doAddBroadcast(Tensor x, Tensor v, Tensor out) {
        Elementwise.addBroadcast(pool, f(x), f(v), out(out), x.size(), v.size());
    }

    @Override protected void doSumBroadcast(Tensor dx, Tensor dv) { Elementwise.sumBroadcast(pool, f(dx), f(dv), dx.size(), dv.size()); }

    @Override protected void doActivation(Activation fn, Tensor x, Tensor out) { Elementwise.activation(pool, fn, f(x), out(out), x.size()); }

    /** A fresh gradient (zeros not yet cleared) is overwritten rather than added to. */
    @Override protected void doActivationBackward(Activation fn, Tensor saved, Tensor dy, Tensor dx) {
        boolean overwrite = freshZeros(dx);
        Elementwise.activationBackward(pool, fn, f(saved), f(dy), overwrite ? out(dx) : f(dx), saved.size(), overwrite);
    }

    @Override protected double doSumSquares(Tensor x) { return Elementwise.sumSquares(pool, f(x), x.size()); }

    @Override protected void doRmsNorm(Tensor x, Tensor scale, double eps, Tensor out, Tensor rstd) {
        Norms.rmsNorm(pool, f(x), f(scale), eps, out(out), out(rstd), x.rows(), x.cols());
    }

    @Override protected void doRmsNormBackward(Tensor x, Tensor scale, Tensor rstd, Tensor dy, Tensor dx, Tensor dScale) {
        Norms.rmsNormBackward(pool, f(x), f(scale), f(rstd), f(dy), f(dx), f(dScale), x.rows(), x.cols());
    }

    @Override protected void doL2NormHeads(Tensor x, int heads, double eps, Tensor out, Tensor rnorm) {
        Norms.l2NormHeads(pool, f(x), heads, eps, out(out), out(rnorm), x.rows(), x.cols());
    }

    @Override protected void doL2NormHeadsBackward(Tensor y, Tensor rnorm, int heads, Tensor dy, Tensor dx) {
        Norms.l2NormHeadsBackward(pool, f(y), f(rnorm), heads, f(dy), f(dx), y.rows(), y.cols());
    }

    @Override protected void doEmbedding(Tensor table, int[] ids, Tensor out) {
        if (table instanceof Int8Tensor q) { Int8Kernels.embedding(q, ids, f(out)); return; }
        Elementwise.embedding(pool, f(table), table.rows(), table.cols(), ids, f(out));
    }

    @Override protected void doEmbeddingBackward(Tensor dOut, int[] ids, Tensor dTable) {
        Elementwise.embeddingBackward(f(dOut), dTable.rows(), dTable.cols(), ids, f(dTable));
    }

    @Override protected void doGateFixed(Tensor c, Tensor z, Tensor bias, Tensor out) {
        Elementwise.gateFixed(pool, f(c), f(z), f(bias), f(out), c.rows(), c.cols());
    }

    @Override protected void doGateFixedBackward(Tensor c, Tensor z, Tensor bias, Tensor dOut, Tensor dc, Tensor dz, Tensor dBias) {
        Elementwise.gateFixedBackward(pool, f(c), f(z), f(bias), f(dOut), f(dc), f(dz), f(dBias), c.rows(), c.cols());
    }

    @Override protected void doGateLstm(Tensor c, Tensor z, Tensor fPre, Tensor iPre, Tensor out) {
        Elementwise.gateLstm(pool, f(c), f(z), f(fPre), f(iPre), f(out), c.size());
    }

    @Override protected void doGateLstmBackward(Tensor c, Tensor z, Tensor fPre, Tensor iPre, Tensor dOut,
                                                Tensor dc, Tensor dz, Tensor dfPre, Tensor diPre) {
        Elementwise.gateLstmBackward(pool, f(c), f(z), f(fPre), f(iPre), f(dOut), f(dc), f(dz), f(dfPre), f(diPre), c.size());
    }

    @Override protected void doAttention(Tensor q, Tensor k, Tensor v, int heads, Tensor temperature, Sliding sliding,
                                         Tensor out, Tensor lse) {
        if (sliding == null && q.dim(1) <= DECODE_QUERIES) {
            // a generated token reading the state: no packing of the S keys per token
            decodeAttention.forward(f(q), f(k), f(v), q.dim(0), q.dim(1), k.dim(1), 0, heads, q.cols() / heads,
                    f(temperature), null, null, f(out), f(lse));
            return;
        }
        attention.forward(f(q), f(k), f(v), q.dim(0), q.dim(1), k.dim(1), heads, q.cols() / heads, f(temperature),
                sliding, sliding == null ? null : f(sliding.relBias()), out(out), out(lse));
    }

    /**
     * A few queries (generation's token, small chunks) read the window in place; a block of queries is worth the
     * copy that lets {@link FusedAttention} run its blocked products (the default copies the rows out).
     */
    @Override protected void doWindowAttention(Tensor q, Tensor keys, Tensor values, int start, int heads, Tensor temperature,
                                               Sliding sliding, Tensor out) {
        if (q.dim(1) > DECODE_QUERIES) {
            super.doWindowAttention(q, keys, values, start, heads, temperature, sliding, out);
            return;
        }
        decodeAttention.forward(f(q), f(keys), f(values), q.dim(0), q.dim(1), keys.dim(1), start, heads, q.cols() / heads,
                f(temperature), sliding, f(sliding.relBias()), f(out), null);
    }

    /** Up to this many queries per call take {@link DecodeAttention}. */
    static final int DECODE_QUERIES = 8;

    @Override protected void doAttentionBackward(Tensor q, Tensor k, Tensor v, int heads, Tensor temperature, Sliding sliding,
                                                 Tensor out, Tensor lse, Tensor dOut, Tensor dq, Tensor dk, Tensor dv,
                                                 Tensor dTemperature, Tensor dRelBias) {
        attention.backward(f(q), f(k), f(v), q.dim(0), q.dim(1), k.dim(1), heads, q.cols() / heads, f(temperature),
                sliding, sliding == null ? null : f(sliding.relBias()), f(out), f(lse), f(dOut), f(dq), f(dk), f(dv),
                f(dTemperature), dRelBias == null ? null : f(dRelBias));
    }

    @Override protected double doCrossEntropy(Tensor logits, int[] targets, boolean[] mask, Tensor rowLoss) {
        return CrossEntropy.forward(pool, f(logits), logits.cols(), targets, mask, f(rowLoss));
    }

    @Override protected void doCrossEntropyBackward(Tensor logits, int[] targets, boolean[] mask, double gradScale, Tensor dLogits) {
        crossEntropyBackwardInto(logits, targets, mask, gradScale, dLogits, null);
    }

    /** With the forward's row losses: one pass over each row (its log-sum-exp is rowLoss + logits[target]), not three. */
    @Override protected void doCrossEntropyBackward(Tensor logits, int[] targets, boolean[] mask, double gradScale, Tensor dLogits,
                                                 Tensor rowLoss) {
        crossEntropyBackwardInto(logits, targets, mask, gradScale, dLogits, f(rowLoss));
    }

    /** One pass over each row; a fresh gradient (zeros not yet cleared) is overwritten rather than added to. */
    @Override protected double doCrossEntropyWithGradient(Tensor logits, int[] targets, boolean[] mask, double gradScale,
                                                       Tensor rowLoss, Tensor dLogits) {
        boolean overwrite = freshZeros(dLogits);
        return CrossEntropy.forwardWithGradient(pool, f(logits), logits.cols(), targets, mask, gradScale, out(rowLoss),
                overwrite ? out(dLogits) : f(dLogits), overwrite);
    }

    /** A fresh gradient (zeros not yet cleared) is overwritten rather than added to. */
    private void crossEntropyBackwardInto(Tensor logits, int[] targets, boolean[] mask, double gradScale, Tensor dLogits, float[] rowLoss) {
        boolean overwrite = freshZeros(dLogits);
        CrossEntropy.backward(pool, f(logits), logits.cols(), targets, mask, gradScale, overwrite ? out(dLogits) : f(dLogits), overwrite, rowLoss);
    }

    @Override protected void doDropout(Tensor x, Tensor out, double rate, long seed, int tileRows, boolean accumulate) {
        Elementwise.dropout(pool, f(x), f(out), rate, seed, tileRows, accumulate, x.rows(), x.cols());
    }

    /** The parts write every row of out, so its pending clear is skipped. */
    @Override protected void doConcatRows(List<Tensor> parts, Tensor out) {
        float[] dst = out(out);
        int at = 0;
        for (Tensor p : parts) {
            moveRows(f(p), dst, out, p, at, true, false, false);
            at += p.dim(1);
        }
    }

    /**
     * A slice out of the whole writes every row of its part, so the part's pending clear is skipped; accumulated into
     * a fresh gradient (the backward of a concatenation), it is written as 0 + src rather than added.
     */
    @Override protected void doRowSlice(Tensor from, Tensor to, int start, boolean intoWhole, boolean accumulate) {
        boolean overwrite = !intoWhole && (!accumulate || freshZeros(to));
        float[] src = f(from), dst = overwrite ? out(to) : f(to);
        moveRows(src, dst, intoWhole ? to : from, intoWhole ? from : to, start, intoWhole, accumulate, overwrite);
    }

    /**
     * Rows [start, start + len) of whole [G, T, C] to or from part [G, len, C], parallel over all G * len rows: copied,
     * added, or (accumulate into zeros not yet cleared) written as 0 + src, the bits an addition would leave.
     */
    private void moveRows(float[] src, float[] dst, Tensor whole, Tensor part, int start, boolean intoWhole,
                          boolean accumulate, boolean overwrite) {
        int tw = whole.dim(1), tp = part.dim(1), c = whole.cols(), rows = whole.dim(0) * tp;
        pool.parallelFor(rows, pool.grain(rows, Math.max(1, Elementwise.GRAIN / 8 / Math.max(1, c))), (s, e, w) -> {
            for (int i = s; i < e; i++) {
                int wo = ((i / tp) * tw + start + i % tp) * c, po = i * c;
                int so = intoWhole ? po : wo, dOff = intoWhole ? wo : po;
                if (accumulate && overwrite) Elementwise.addIntoZeros(src, so, dst, dOff, c);
                else Elementwise.move(src, so, dst, dOff, c, accumulate);
            }
        });
    }

    @Override protected void doColSlice(Tensor from, Tensor to, int start, boolean intoWhole, boolean accumulate) {
        Tensor whole = intoWhole ? to : from, part = intoWhole ? from : to;
        float[] src = f(from), dst = f(to);
        int cw = whole.cols(), cp = part.cols(), rows = whole.rows();
        pool.parallelFor(rows, Math.max(1, Elementwise.GRAIN / Math.max(1, cp)), (s, e, w) -> {
            for (int r = s; r < e; r++) {
                if (intoWhole) Elementwise.move(src, r * cp, dst, r * cw + start, cp, accumulate);
                else Elementwise.move(src, r * cw + start, dst, r * cp, cp, accumulate);
            }
        });
    }

    @Override protected void doSelectBatch(boolean[] takeA, Tensor a, Tensor b, Tensor out) {
        float[] A = f(a), B = f(b), O = f(out);
        int per = a.size();
        for (int g = 0; g < takeA.length; g++) {
            if (takeA[g]) System.arraycopy(A, 0, O, g * per, per);
            else if (B != O) System.arraycopy(B, g * per, O, g * per, per);
        }
    }

    @Override protected void doSelectBatchBackward(boolean[] takeA, Tensor dOut, Tensor dA, Tensor dB) {
        float[] DO = f(dOut), DA = f(dA), DB = dB == null ? null : f(dB);
        int per = dA.size();
        for (int g = 0; g < takeA.length; g++) {
            if (takeA[g]) Elementwise.addInto(DO, g * per, DA, 0, per);
            else if (DB != null) Elementwise.addInto(DO, g * per, DB, g * per, per);
        }
    }

    @Override protected void doAdamW(Tensor param, Tensor grad, Tensor m, Tensor v, double lr, double beta1, double beta2,
                                     double eps, double weightDecay, long step) {
        Optimizers.adamW(pool, f(param), f(grad), f(m), f(v), param.size(), lr, beta1, beta2, eps, weightDecay, step);
    }

    @Override protected void doAdafactor(Tensor param, Tensor grad, Tensor m, Tensor v, Tensor vRow, Tensor vCol,
                                         boolean factored, double lr, long step, AdafactorSpec spec) {
        Optimizers.adafactor(pool, f(param), param.rows(), param.cols(), f(grad), m == null ? null : f(m),
                factored ? null : f(v), factored ? f(vRow) : null, factored ? f(vCol) : null, lr, step, spec);
    }

    @Override public void close() { pool.close(); }
}
