package brt4j.backend;

import brt4j.tensor.Tensor;

import java.util.Arrays;
import java.util.List;

/**
 * The seam between the model and the hardware. Model, training and inference code call only these methods; a
 * backend (the float64 reference oracle, the Vector API CPU backend, a GPU) implements the protected kernels.
 *
 * <p>Every public method here checks its arguments and throws {@link IllegalArgumentException} naming the op and
 * the shapes; nothing is broadcast unless the op says so. The kernels may then assume valid input. Backward ops
 * <b>add</b> into their gradient outputs, so a tensor used twice accumulates both gradients.
 *
 * <p>Matrix view: an op that works on rows reads a tensor as {@code rows() x cols()} (see {@link Tensor}).
 */
public abstract class Backend implements AutoCloseable {

    /** Short name: "reference", "cpu", "cuda", "opencl". */
    public abstract String name();

    /** Bits of precision the storage keeps: 64 for the reference oracle, 32 otherwise. */
    public abstract int precisionBits();

    // ---------------------------------------------------------------- memory

    /** A new tensor of zeros. */
    public abstract Tensor zeros(int... shape);

    public final Tensor upload(float[] data, int... shape) {
        Tensor t = zeros(shape);
        require("upload", data.length == t.size(), () -> data.length + " values for shape " + Arrays.toString(shape));
        doUpload(data, t);
        return t;
    }

    public final Tensor upload(double[] data, int... shape) {
        Tensor t = zeros(shape);
        require("upload", data.length == t.size(), () -> data.length + " values for shape " + Arrays.toString(shape));
        doUpload(data, t);
        return t;
    }

    /** The values of t; int8 weights come back dequantized. */
    public final float[] download(Tensor t) { ownWeights("download", t); return doDownload(t); }

    public final double[] downloadDouble(Tensor t) { ownWeights("download", t); return doDownloadDouble(t); }

    /**
     * Int8 weights for inference: per row r, scale_r = max_c |w[r, c]| / 127 and q = round(w / scale_r), so a
     * weight takes a quarter of its float32 memory. The result works as matmul's transposed right operand and as
     * an embedding table (the tied output head is both).
     */
    public final Tensor quantizeInt8(Tensor w) {
        own("quantizeInt8", w);
        require("quantizeInt8", w.rank() == 2, () -> "only matrices are quantized, got " + w.shapeString());
        return doQuantizeInt8(w);
    }

    protected Tensor doQuantizeInt8(Tensor w) {
        throw new IllegalArgumentException("the " + name() + " backend has no int8 weights");
    }

    /**
     * {@link #quantizeInt8(Tensor)} of a [rows, cols] matrix that {@code src} hands over a block of rows at a time,
     * with the same bits: loading int8 weights straight from a checkpoint, so a model whose float32 form does not fit
     * in memory still loads (the backend stages a bounded block of rows, never the whole float32 matrix).
     */
    public final Tensor quantizeInt8(int rows, int cols, RowSource src) {
        require("quantizeInt8", rows > 0 && cols > 0, () -> "a matrix needs rows and columns, got [" + rows + ", " + cols + "]");
        require("quantizeInt8", (long) rows * cols <= Integer.MAX_VALUE, () -> "[" + rows + ", " + cols + "] is too large");
        return doQuantizeInt8(rows, cols, src);
    }

    protected Tensor doQuantizeInt8(int rows, int cols, RowSource src) {
        throw new IllegalArgumentException("the " + name() + " backend has no int8 weights");
    }

    /** A tensor with another shape of the same size that shares the storage of {@code t}. */
    public final Tensor view(Tensor t, int... shape) {
        own("view", t);
        long n = 1;
        for (int d : shape) n *= d;
        require("view", n == t.size(), () -> "cannot view " + t.shapeString() + " as " + Arrays.toString(shape));
        return doView(t, shape);
    }

    /** Releases device memory now; a no-op where the garbage collector owns it. */
    public void free(Tensor t) {}

    public final void copy(Tensor src, Tensor dst) {
        own("copy", src, dst);
        sameSize("copy", src, dst);
        doCopy(src, dst);
    }

    public final void fill(Tensor t, double value) { own("fill", t); doFill(t, value); }

    // ---------------------------------------------------------------- matrix products

    /**
     * c = alpha * op(a) . op(b) + beta * c, with a, b, c read as matrices; op(x) is x or its transpose.
     * With beta = 0 the old contents of c are ignored (even NaN).
     */
    public final void matmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor c, double alpha, double beta) {
        batchedMatmul(1, a, transA, b, transB, c, alpha, beta);
    }

    /** {@link #matmul} on {@code batch} independent matrices stored one after another in each of a, b and c. */
    public final void batchedMatmul(int batch, Tensor a, boolean transA, Tensor b, boolean transB, Tensor c, double alpha, double beta) {
        own("matmul", a, c);
        ownWeights("matmul", b);
        require("matmul", !b.quantized() || (transB && batch == 1),
                () -> "int8 weights " + b.shapeString() + " are only supported as y = x W^T (transB, one batch)");
        int[] mnk = productShape("matmul", batch, a, transA, b, transB, c);
        doMatmul(batch, mnk[0], mnk[1], mnk[2], a, transA, b, transB, c, alpha, beta);
    }

    /**
     * Independent products of one shape, c_i = alpha op(a_i) op(b_i) + beta c_i, in one call: a GPU runs them as one
     * launch (the recurrent cell's four projections of a 512-row state fill an H200 poorly one at a time). The
     * outputs must be distinct tensors; b may be int8 weights where matmul allows them (x W^T).
     */
    public final void matmulGroup(List<Tensor> a, boolean transA, List<Tensor> b, boolean transB, List<Tensor> c,
                                  double alpha, double beta) {
        require("matmulGroup", !a.isEmpty() && a.size() == b.size() && b.size() == c.size(),
                () -> a.size() + " left operands, " + b.size() + " right operands and " + c.size() + " outputs");
        int[] mnk = null;
        for (int i = 0; i < a.size(); i++) {
            Tensor ai = a.get(i), bi = b.get(i), ci = c.get(i);
            own("matmulGroup", ai, ci);
            ownWeights("matmulGroup", bi);
            require("matmulGroup", !bi.quantized() || transB,
                    () -> "int8 weights " + bi.shapeString() + " are only supported as y = x W^T (transB)");
            for (int j = 0; j < i; j++) {
                int jj = j;
                require("matmulGroup", c.get(j) != ci, () -> "outputs " + jj + " and " + c.indexOf(ci) + " are the same tensor");
            }
            int[] s = productShape("matmulGroup", 1, ai, transA, bi, transB, ci), first = mnk;
            if (first == null) mnk = s;
            else require("matmulGroup", Arrays.equals(first, s), () -> "product " + c.indexOf(ci) + " is " + s[0] + "x" + s[2]
                    + " . " + s[2] + "x" + s[1] + ", product 0 " + first[0] + "x" + first[2] + " . " + first[2] + "x" + first[1]);
        }
        doMatmulGroup(mnk[0], mnk[1], mnk[2], a, transA, b, transB, c, alpha, beta);
    }

    /** {m, n, k} of c = op(a) op(b) per batch item; an IllegalArgumentException naming {@code op} where they do not fit. */
    private int[] productShape(String op, int batch, Tensor a, boolean transA, Tensor b, boolean transB, Tensor c) {
        require(op, batch >= 1 && a.size() % batch == 0 && b.size() % batch == 0 && c.size() % batch == 0,
                () -> "batch " + batch + " does not divide the sizes of a " + a.shapeString() + ", b " + b.shapeString() + ", c " + c.shapeString());
        int aCols = a.cols(), aRows = a.size() / batch / Math.max(1, aCols);
        int bCols = b.cols(), bRows = b.size() / batch / Math.max(1, bCols);
        int m = transA ? aCols : aRows, k = transA ? aRows : aCols;
        int kb = transB ? bCols : bRows, n = transB ? bRows : bCols;
        int cRows = c.size() / batch / Math.max(1, c.cols());
        require(op, k == kb && c.cols() == n && cRows == m,
                () -> "a " + a.shapeString() + (transA ? "^T" : "") + " . b " + b.shapeString() + (transB ? "^T" : "")
                        + " -> c " + c.shapeString() + " (batch " + batch + "): inner dimensions " + k + " vs " + kb
                        + ", result must be " + m + "x" + n);
        return new int[]{m, n, k};
    }

    // ---------------------------------------------------------------- elementwise

    /** out = a + b, same shapes. */
    public final void add(Tensor a, Tensor b, Tensor out) {
        own("add", a, b, out); sameShape("add", a, b); sameShape("add", a, out);
        doAdd(a, b, out);
    }

    /** y += alpha * x. */
    public final void axpy(double alpha, Tensor x, Tensor y) {
        own("axpy", x, y); sameSize("axpy", x, y);
        doAxpy(alpha, x, y);
    }

    /** x *= alpha, in place. */
    public final void scale(Tensor x, double alpha) { own("scale", x); doScale(x, alpha); }

    /** out = x + v tiled over x: v's size must divide x's (a bias row, or state IDs over the batch). */
    public final void addBroadcast(Tensor x, Tensor v, Tensor out) {
        own("addBroadcast", x, v, out); sameShape("addBroadcast", x, out);
        require("addBroadcast", v.size() > 0 && x.size() % v.size() == 0,
                () -> "v " + v.shapeString() + " does not tile x " + x.shapeString());
        doAddBroadcast(x, v, out);
    }

    /** dv += sum of the v-sized tiles of dx: the backward of {@link #addBroadcast}. */
    public final void sumBroadcast(Tensor dx, Tensor dv) {
        own("sumBroadcast", dx, dv);
        require("sumBroadcast", dv.size() > 0 && dx.size() % dv.size() == 0,
                () -> "dv " + dv.shapeString() + " does not tile dx " + dx.shapeString());
        doSumBroadcast(dx, dv);
    }

    public enum Activation { RELU, TANH, SIGMOID }

    /** out = f(x). */
    public final void activation(Activation f, Tensor x, Tensor out) {
        own(f.name().toLowerCase(), x, out); sameShape(f.name().toLowerCase(), x, out);
        doActivation(f, x, out);
    }

    /**
     * dx += dy * f'(.), where {@code saved} is the input x for RELU and the output y for TANH and SIGMOID
     * (their derivatives are cheapest from y).
     */
    public final void activationBackward(Activation f, Tensor saved, Tensor dy, Tensor dx) {
        String op = f.name().toLowerCase() + "Backward";
        own(op, saved, dy, dx); sameShape(op, saved, dy); sameShape(op, saved, dx);
        doActivationBackward(f, saved, dy, dx);
    }

    /** Sum of squares of all elements, accumulated in double (for the global gradient norm). */
    public final double sumSquares(Tensor x) { own("sumSquares", x); return doSumSquares(x); }

    /** True when every element is finite. */
    public final boolean allFinite(Tensor x) { own("allFinite", x); return Double.isFinite(doSumSquares(x)); }

    // ---------------------------------------------------------------- normalization

    /** RMS norm over rows (spec §1.5): out = x / sqrt(mean(x^2) + eps) * scale; rstd [rows] keeps 1/sqrt(..). */
    public final void rmsNorm(Tensor x, Tensor scale, double eps, Tensor out, Tensor rstd) {
        own("rmsNorm", x, scale, out, rstd); sameShape("rmsNorm", x, out);
        require("rmsNorm", scale.size() == x.cols() && rstd.size() == x.rows(),
                () -> "x " + x.shapeString() + " needs scale [" + x.cols() + "] and rstd [" + x.rows() + "], got scale "
                        + scale.shapeString() + ", rstd " + rstd.shapeString());
        doRmsNorm(x, scale, eps, out, rstd);
    }

    public final void rmsNormBackward(Tensor x, Tensor scale, Tensor rstd, Tensor dy, Tensor dx, Tensor dScale) {
        own("rmsNormBackward", x, scale, rstd, dy, dx, dScale);
        sameShape("rmsNormBackward", x, dy); sameShape("rmsNormBackward", x, dx); sameShape("rmsNormBackward", scale, dScale);
        require("rmsNormBackward", scale.size() == x.cols() && rstd.size() == x.rows(), () -> "x " + x.shapeString()
                + ", scale " + scale.shapeString() + ", rstd " + rstd.shapeString());
        doRmsNormBackward(x, scale, rstd, dy, dx, dScale);
    }

    /** Per-head L2 norm (spec §1.3): each of the {@code heads} slices of a row becomes u / sqrt(sum u^2 + eps). */
    public final void l2NormHeads(Tensor x, int heads, double eps, Tensor out, Tensor rnorm) {
        own("l2NormHeads", x, out, rnorm); sameShape("l2NormHeads", x, out);
        require("l2NormHeads", heads >= 1 && x.cols() % heads == 0 && rnorm.size() == x.rows() * heads,
                () -> "x " + x.shapeString() + " with " + heads + " heads needs rnorm [" + (long) x.rows() * heads
                        + "], got " + rnorm.shapeString());
        doL2NormHeads(x, heads, eps, out, rnorm);
    }

    /** dx += (dy - y (y . dy)) * rnorm per head, where y is the normalized output. */
    public final void l2NormHeadsBackward(Tensor y, Tensor rnorm, int heads, Tensor dy, Tensor dx) {
        own("l2NormHeadsBackward", y, rnorm, dy, dx);
        sameShape("l2NormHeadsBackward", y, dy); sameShape("l2NormHeadsBackward", y, dx);
        require("l2NormHeadsBackward", heads >= 1 && y.cols() % heads == 0 && rnorm.size() == y.rows() * heads,
                () -> "y " + y.shapeString() + ", rnorm " + rnorm.shapeString() + ", heads " + heads);
        doL2NormHeadsBackward(y, rnorm, heads, dy, dx);
    }

    // ---------------------------------------------------------------- embedding

    /** out[r] = table[ids[r] mod V]. */
    public final void embedding(Tensor table, int[] ids, Tensor out) {
        own("embedding", out);
        ownWeights("embedding", table);
        require("embedding", out.rows() == ids.length && out.cols() == table.cols(),
                () -> ids.length + " ids into table " + table.shapeString() + " need out [" + ids.length + ", " + table.cols()
                        + "], got " + out.shapeString());
        doEmbedding(table, ids, out);
    }

    public final void embeddingBackward(Tensor dOut, int[] ids, Tensor dTable) {
        own("embeddingBackward", dOut, dTable);
        require("embeddingBackward", dOut.rows() == ids.length && dOut.cols() == dTable.cols(),
                () -> ids.length + " ids, dOut " + dOut.shapeString() + ", dTable " + dTable.shapeString());
        doEmbeddingBackward(dOut, ids, dTable);
    }

    // ---------------------------------------------------------------- gates (spec §1.7)

    /** Fixed gate: g = sigmoid(bias); out = c * g + z * (1 - g), bias [cols] broadcast over rows. */
    public final void gateFixed(Tensor c, Tensor z, Tensor bias, Tensor out) {
        own("gateFixed", c, z, bias, out); sameShape("gateFixed", c, z); sameShape("gateFixed", c, out);
        require("gateFixed", bias.size() == c.cols(), () -> "bias " + bias.shapeString() + " for state " + c.shapeString());
        doGateFixed(c, z, bias, out);
    }

    public final void gateFixedBackward(Tensor c, Tensor z, Tensor bias, Tensor dOut, Tensor dc, Tensor dz, Tensor dBias) {
        own("gateFixedBackward", c, z, bias, dOut, dc, dz, dBias);
        for (Tensor t : new Tensor[]{z, dOut, dc, dz}) sameShape("gateFixedBackward", c, t);
        sameShape("gateFixedBackward", bias, dBias);
        require("gateFixedBackward", bias.size() == c.cols(), () -> "bias " + bias.shapeString() + " for state " + c.shapeString());
        doGateFixedBackward(c, z, bias, dOut, dc, dz, dBias);
    }

    /**
     * LSTM gate: f = sigmoid(fPre + 1), i = sigmoid(iPre - 1); out = c * f + z * i. fPre and iPre are the gate
     * input's projections plus the stored biases (which exclude the +1 / -1 offsets, design.md).
     */
    public final void gateLstm(Tensor c, Tensor z, Tensor fPre, Tensor iPre, Tensor out) {
        own("gateLstm", c, z, fPre, iPre, out);
        for (Tensor t : new Tensor[]{z, fPre, iPre, out}) sameShape("gateLstm", c, t);
        doGateLstm(c, z, fPre, iPre, out);
    }

    public final void gateLstmBackward(Tensor c, Tensor z, Tensor fPre, Tensor iPre, Tensor dOut,
                                       Tensor dc, Tensor dz, Tensor dfPre, Tensor diPre) {
        own("gateLstmBackward", c, z, fPre, iPre, dOut, dc, dz, dfPre, diPre);
        for (Tensor t : new Tensor[]{z, fPre, iPre, dOut, dc, dz, dfPre, diPre}) sameShape("gateLstmBackward", c, t);
        doGateLstmBackward(c, z, fPre, iPre, dOut, dc, dz, dfPre, diPre);
    }

    // ---------------------------------------------------------------- attention (spec §1.3)

    /**
     * Fused attention over G independent groups: q [G, Tq, H*D], k and v [G, Tk, H*D], out [G, Tq, H*D].
     * logit = (q . k + bias) * temperature[h]; masked keys excluded; safe softmax with one phantom logit at -1000;
     * out = sum p v. lse [G, H, Tq] keeps max + log(denominator) for backward. No mask and no bias when
     * {@code sliding} is null; otherwise see {@link Sliding} (and Tk must be Tq + window).
     */
    public final void attention(Tensor q, Tensor k, Tensor v, int heads, Tensor temperature, Sliding sliding,
                                Tensor out, Tensor lse) {
        checkAttention("attention", q, k, v, heads, temperature, sliding, out, lse);
        doAttention(q, k, v, heads, temperature, sliding, out, lse);
    }

    /** Adds the gradients of {@link #attention}; dRelBias may be null only when sliding is null. */
    public final void attentionBackward(Tensor q, Tensor k, Tensor v, int heads, Tensor temperature, Sliding sliding,
                                        Tensor out, Tensor lse, Tensor dOut,
                                        Tensor dq, Tensor dk, Tensor dv, Tensor dTemperature, Tensor dRelBias) {
        checkAttentionBackward("attentionBackward", q, k, v, heads, temperature, sliding, out, lse, dOut, dq, dk, dv, dTemperature);
        if (sliding != null) {
            require("attentionBackward", dRelBias != null, () -> "sliding attention needs dRelBias");
            own("attentionBackward", dRelBias); sameShape("attentionBackward", sliding.relBias(), dRelBias);
        }
        doAttentionBackward(q, k, v, heads, temperature, sliding, out, lse, dOut, dq, dk, dv, dTemperature, dRelBias);
    }

    private void checkAttentionBackward(String op, Tensor q, Tensor k, Tensor v, int heads, Tensor temperature, Sliding sliding,
                                        Tensor out, Tensor lse, Tensor dOut, Tensor dq, Tensor dk, Tensor dv, Tensor dTemperature) {
        checkAttention(op, q, k, v, heads, temperature, sliding, out, lse);
        own(op, dOut, dq, dk, dv, dTemperature);
        sameShape(op, out, dOut); sameShape(op, q, dq); sameShape(op, k, dk); sameShape(op, v, dv);
        sameShape(op, temperature, dTemperature);
    }

    /** One attention without mask, bias or dropout: its inputs and outputs ({@link #attentionPair}). */
    public record Attn(Tensor q, Tensor k, Tensor v, Tensor temperature, Tensor out, Tensor lse) {}

    /** The gradients an {@link Attn}'s backward adds into: of q, k, v and the temperatures, from dOut. */
    public record AttnGrads(Tensor dOut, Tensor dq, Tensor dk, Tensor dv, Tensor dTemperature) {}

    /**
     * Two independent attentions without mask, bias or dropout, each exactly {@link #attention} with no sliding
     * window: the recurrent cell's self- and cross-attention of a block (spec §1.7), which a GPU runs side by side.
     */
    public final void attentionPair(int heads, Attn a, Attn b) {
        for (Attn x : List.of(a, b)) checkAttention("attentionPair", x.q(), x.k(), x.v(), heads, x.temperature(), null, x.out(), x.lse());
        require("attentionPair", a.out() != b.out() && a.lse() != b.lse(), () -> "the two attentions write the same output");
        doAttentionPair(heads, a, b);
    }

    /** Adds the gradients of {@link #attentionPair}; the two attentions' gradient tensors must be distinct. */
    public final void attentionPairBackward(int heads, Attn a, AttnGrads ga, Attn b, AttnGrads gb) {
        checkAttentionBackward("attentionPairBackward", a.q(), a.k(), a.v(), heads, a.temperature(), null, a.out(), a.lse(),
                ga.dOut(), ga.dq(), ga.dk(), ga.dv(), ga.dTemperature());
        checkAttentionBackward("attentionPairBackward", b.q(), b.k(), b.v(), heads, b.temperature(), null, b.out(), b.lse(),
                gb.dOut(), gb.dq(), gb.dk(), gb.dv(), gb.dTemperature());
        List<Tensor> written = List.of(ga.dq(), ga.dk(), ga.dv(), ga.dTemperature());
        for (Tensor t : List.of(gb.dq(), gb.dk(), gb.dv(), gb.dTemperature())) {
            require("attentionPairBackward", written.stream().noneMatch(w -> w == t),
                    () -> "the two attentions add into the same gradient " + t.shapeString());
        }
        doAttentionPairBackward(heads, a, ga, b, gb);
    }

    /**
     * The token self-attention of Tq new queries over a key/value window read in place (generation): keys and values
     * [G, T, H*D] hold, at rows [start, start + window + Tq), the window keys before the first query followed by the
     * queries' own keys. Defined as {@link #attention} over exactly those rows with the same {@link Sliding} (T5 bias,
     * temperatures, sliding mask that excludes the token itself, safe softmax), forward only, no attention dropout.
     * A decoder keeps [previous block ; current block] in one [G, 2W, H*D] buffer, writes each new key into it and
     * calls this with start = the offset in the block, so no key or value is copied per token.
     */
    public final void windowAttention(Tensor q, Tensor keys, Tensor values, int start, int heads, Tensor temperature,
                                      Sliding sliding, Tensor out) {
        String op = "windowAttention";
        own(op, q, keys, values, temperature, out);
        require(op, sliding != null, () -> "needs the sliding window (T5 bias and mask)");
        own(op, sliding.relBias());
        require(op, sliding.dropoutRate() == 0, () -> "is inference only, got attention dropout " + sliding.dropoutRate());
        require(op, q.rank() == 3 && keys.rank() == 3 && q.sameShape(out) && keys.sameShape(values)
                        && q.dim(0) == keys.dim(0) && q.cols() == keys.cols(),
                () -> "q and out must be [G, Tq, H*D], keys and values [G, T, H*D]; got q " + q.shapeString() + ", keys "
                        + keys.shapeString() + ", values " + values.shapeString() + ", out " + out.shapeString());
        require(op, heads >= 1 && q.cols() % heads == 0 && temperature.size() == heads,
                () -> q.cols() + " features, " + heads + " heads, temperature " + temperature.shapeString());
        require(op, sliding.relBias().rank() == 2 && sliding.relBias().dim(0) == heads,
                () -> "relative bias must be [" + heads + ", buckets], got " + sliding.relBias().shapeString());
        require(op, start >= 0 && (long) start + sliding.window() + q.dim(1) <= keys.dim(1),
                () -> "rows [" + start + ", " + ((long) start + sliding.window() + q.dim(1)) + ") (window " + sliding.window()
                        + " + " + q.dim(1) + " queries) do not lie in keys " + keys.shapeString());
        doWindowAttention(q, keys, values, start, heads, temperature, sliding, out);
    }

    /**
     * Default for backends without an in-place kernel (the GPU ones): copy the rows out and run {@link #attention},
     * the op's definition, from existing ops. Correct everywhere; a backend that cares about generation speed
     * overrides it with a kernel that reads the rows where they are.
     */
    protected void doWindowAttention(Tensor q, Tensor keys, Tensor values, int start, int heads, Tensor temperature,
                                     Sliding sliding, Tensor out) {
        int g = q.dim(0), tq = q.dim(1), hd = q.cols(), tk = sliding.window() + tq;
        Tensor k = zeros(g, tk, hd), v = zeros(g, tk, hd), lse = zeros(g, heads, tq);
        try {
            sliceRows(keys, start, k);
            sliceRows(values, start, v);
            attention(q, k, v, heads, temperature, sliding, out, lse);
        } finally {
            free(k); free(v); free(lse);
        }
    }

    private void checkAttention(String op, Tensor q, Tensor k, Tensor v, int heads, Tensor temperature, Sliding sliding,
                                Tensor out, Tensor lse) {
        own(op, q, k, v, temperature, out, lse);
        require(op, q.rank() == 3 && k.rank() == 3 && v.rank() == 3 && out.rank() == 3,
                () -> "q, k, v and out must be [G, T, H*D]; got q " + q.shapeString() + ", k " + k.shapeString() + ", v "
                        + v.shapeString() + ", out " + out.shapeString());
        require(op, q.dim(0) == k.dim(0) && k.sameShape(v) && q.sameShape(out) && q.cols() == k.cols(),
                () -> "q " + q.shapeString() + ", k " + k.shapeString() + ", v " + v.shapeString() + ", out " + out.shapeString()
                        + " disagree");
        require(op, heads >= 1 && q.cols() % heads == 0 && temperature.size() == heads,
                () -> q.cols() + " features, " + heads + " heads, temperature " + temperature.shapeString());
        require(op, lse.size() == q.dim(0) * heads * q.dim(1),
                () -> "lse must be [" + q.dim(0) + ", " + heads + ", " + q.dim(1) + "], got " + lse.shapeString());
        if (sliding != null) {
            own(op, sliding.relBias());
            require(op, k.dim(1) == q.dim(1) + sliding.window(),
                    () -> "sliding window " + sliding.window() + " needs " + q.dim(1) + " + " + sliding.window()
                            + " keys; got q " + q.shapeString() + ", k " + k.shapeString());
            require(op, sliding.relBias().rank() == 2 && sliding.relBias().dim(0) == heads,
                    () -> "relative bias must be [" + heads + ", buckets], got " + sliding.relBias().shapeString());
        }
    }

    // ---------------------------------------------------------------- loss

    /**
     * Softmax cross-entropy per row: rowLoss[r] = mask[r] ? logsumexp(logits[r]) - logits[r, target[r]] : 0.
     * Targets are taken mod V. Returns the sum of rowLoss in double.
     */
    public final double crossEntropy(Tensor logits, int[] targets, boolean[] mask, Tensor rowLoss) {
        checkCe("crossEntropy", logits, targets, mask);
        own("crossEntropy", rowLoss);
        require("crossEntropy", rowLoss.size() == logits.rows(), () -> "rowLoss " + rowLoss.shapeString() + " for logits " + logits.shapeString());
        return doCrossEntropy(logits, targets, mask, rowLoss);
    }

    /** dLogits += gradScale * mask * (softmax(logits) - onehot(target)). */
    public final void crossEntropyBackward(Tensor logits, int[] targets, boolean[] mask, double gradScale, Tensor dLogits) {
        checkCe("crossEntropyBackward", logits, targets, mask);
        own("crossEntropyBackward", dLogits); sameShape("crossEntropyBackward", logits, dLogits);
        doCrossEntropyBackward(logits, targets, mask, gradScale, dLogits);
    }

    /**
     * {@link #crossEntropyBackward}, given the rowLoss that {@link #crossEntropy} wrote for these same logits (unchanged
     * since): each row's log-sum-exp is then rowLoss + logits[target], and a backend may skip recomputing it.
     */
    public final void crossEntropyBackward(Tensor logits, int[] targets, boolean[] mask, double gradScale, Tensor dLogits,
                                           Tensor rowLoss) {
        checkCe("crossEntropyBackward", logits, targets, mask);
        own("crossEntropyBackward", dLogits, rowLoss); sameShape("crossEntropyBackward", logits, dLogits);
        require("crossEntropyBackward", rowLoss.size() == logits.rows(), () -> "rowLoss " + rowLoss.shapeString() + " for logits " + logits.shapeString());
        doCrossEntropyBackward(logits, targets, mask, gradScale, dLogits, rowLoss);
    }

    /**
     * {@link #crossEntropy} and {@link #crossEntropyBackward} in one call, as a training step runs them (the loss is its
     * last op, so its gradient is known at once): dLogits += gradScale * mask * (softmax(logits) - onehot(target)).
     * A backend may compute both from one pass over each row. Returns the sum of rowLoss in double.
     */
    public final double crossEntropyWithGradient(Tensor logits, int[] targets, boolean[] mask, double gradScale,
                                                 Tensor rowLoss, Tensor dLogits) {
        checkCe("crossEntropyWithGradient", logits, targets, mask);
        own("crossEntropyWithGradient", rowLoss, dLogits); sameShape("crossEntropyWithGradient", logits, dLogits);
        require("crossEntropyWithGradient", rowLoss.size() == logits.rows(), () -> "rowLoss " + rowLoss.shapeString() + " for logits " + logits.shapeString());
        return doCrossEntropyWithGradient(logits, targets, mask, gradScale, rowLoss, dLogits);
    }

    private void checkCe(String op, Tensor logits, int[] targets, boolean[] mask) {
        own(op, logits);
        require(op, targets.length == logits.rows() && mask.length == logits.rows(),
                () -> "logits " + logits.shapeString() + " need " + logits.rows() + " targets and mask entries, got "
                        + targets.length + " and " + mask.length);
    }

    // ---------------------------------------------------------------- dropout

    /**
     * out = x * keep / (1 - rate). keep for element (r, c) comes from {@link CounterRng} at index
     * ((r mod tileRows) * cols + c), so one (tileRows x cols) mask tile repeats over the rows ([code-2022] tiles
     * 128 rows); tileRows = 0 means no tiling.
     */
    public final void dropout(Tensor x, Tensor out, double rate, long seed, int tileRows) {
        own("dropout", x, out); sameShape("dropout", x, out); checkRate(rate, tileRows);
        doDropout(x, out, rate, seed, tileRows, false);
    }

    /** dx += dy * keep / (1 - rate), the same mask as {@link #dropout}. */
    public final void dropoutBackward(Tensor dy, Tensor dx, double rate, long seed, int tileRows) {
        own("dropoutBackward", dy, dx); sameShape("dropoutBackward", dy, dx); checkRate(rate, tileRows);
        doDropout(dy, dx, rate, seed, tileRows, true);
    }

    private static void checkRate(double rate, int tileRows) {
        require("dropout", rate >= 0 && rate < 1 && tileRows >= 0, () -> "rate " + rate + ", tileRows " + tileRows);
    }

    // ---------------------------------------------------------------- rows and columns

    /** out = the parts stacked along dimension 1: parts [G, Ti, C] -> out [G, sum Ti, C]. */
    public final void concatRows(List<Tensor> parts, Tensor out) {
        own("concatRows", out);
        int total = 0;
        for (Tensor p : parts) {
            own("concatRows", p);
            require("concatRows", p.rank() == 3 && p.dim(0) == out.dim(0) && p.cols() == out.cols(),
                    () -> "part " + p.shapeString() + " does not fit out " + out.shapeString());
            total += p.dim(1);
        }
        int t = total;
        require("concatRows", out.rank() == 3 && out.dim(1) == t, () -> "parts have " + t + " rows, out " + out.shapeString());
        doConcatRows(parts, out);
    }

    /** out [G, len, C] = src [G, start : start + len, C]. */
    public final void sliceRows(Tensor src, int start, Tensor out) {
        checkRowSlice("sliceRows", src, start, out);
        doRowSlice(src, out, start, false, false);
    }

    /** whole [G, start : start + len, C] = part [G, len, C] (in place: a rolling key/value window). */
    public final void writeRows(Tensor part, int start, Tensor whole) {
        checkRowSlice("writeRows", whole, start, part);
        doRowSlice(part, whole, start, true, false);
    }

    /** out [G, len, C] += src [G, start : start + len, C]: the backward of {@link #concatRows}. */
    public final void sliceRowsAccumulate(Tensor src, int start, Tensor out) {
        checkRowSlice("sliceRowsAccumulate", src, start, out);
        doRowSlice(src, out, start, false, true);
    }

    /** dSrc [G, start : start + len, C] += dOut [G, len, C]. */
    public final void sliceRowsBackward(Tensor dOut, int start, Tensor dSrc) {
        checkRowSlice("sliceRowsBackward", dSrc, start, dOut);
        doRowSlice(dOut, dSrc, start, true, true);
    }

    private void checkRowSlice(String op, Tensor whole, int start, Tensor part) {
        own(op, whole, part);
        require(op, whole.rank() == 3 && part.rank() == 3 && whole.dim(0) == part.dim(0) && whole.cols() == part.cols()
                        && start >= 0 && start + part.dim(1) <= whole.dim(1),
                () -> "rows [" + start + ", " + (start + part.dim(1)) + ") of " + whole.shapeString() + " into " + part.shapeString());
    }

    /** out = the parts side by side along the last dimension: parts [R, Ci] -> out [R, sum Ci]. */
    public final void concatCols(List<Tensor> parts, Tensor out) {
        own("concatCols", out);
        int total = 0;
        for (Tensor p : parts) {
            own("concatCols", p);
            require("concatCols", p.rows() == out.rows(), () -> "part " + p.shapeString() + " does not fit out " + out.shapeString());
            total += p.cols();
        }
        int t = total;
        require("concatCols", out.cols() == t, () -> "parts have " + t + " columns, out " + out.shapeString());
        int at = 0;
        for (Tensor p : parts) { doColSlice(p, out, at, true, false); at += p.cols(); }
    }

    /** out [R, len] = src [R, start : start + len]. */
    public final void sliceCols(Tensor src, int start, Tensor out) {
        checkColSlice("sliceCols", src, start, out);
        doColSlice(src, out, start, false, false);
    }

    /** out [R, len] += src [R, start : start + len]: the backward of {@link #concatCols}. */
    public final void sliceColsAccumulate(Tensor src, int start, Tensor out) {
        checkColSlice("sliceColsAccumulate", src, start, out);
        doColSlice(src, out, start, false, true);
    }

    /** dSrc [R, start : start + len] += dOut. */
    public final void sliceColsBackward(Tensor dOut, int start, Tensor dSrc) {
        checkColSlice("sliceColsBackward", dSrc, start, dOut);
        doColSlice(dOut, dSrc, start, true, true);
    }

    private void checkColSlice(String op, Tensor whole, int start, Tensor part) {
        own(op, whole, part);
        require(op, whole.rows() == part.rows() && start >= 0 && start + part.cols() <= whole.cols(),
                () -> "columns [" + start + ", " + (start + part.cols()) + ") of " + whole.shapeString() + " into " + part.shapeString());
    }

    /**
     * Per batch row g of out [G, R, C]: out[g] = takeA[g] ? a : b[g], with a [R, C] shared by all rows. This is the
     * start-of-document reset: a is the learned initial state (or zeros for the XL cache), b the carried value.
     */
    public final void selectBatch(boolean[] takeA, Tensor a, Tensor b, Tensor out) {
        own("selectBatch", a, b, out); sameShape("selectBatch", b, out);
        require("selectBatch", b.rank() >= 2 && takeA.length == b.dim(0) && a.size() * b.dim(0) == b.size(),
                () -> takeA.length + " flags, a " + a.shapeString() + ", b " + b.shapeString());
        doSelectBatch(takeA, a, b, out);
    }

    /** dA += sum of dOut[g] over rows with takeA[g]; dB[g] += dOut[g] over the others (dB may be null). */
    public final void selectBatchBackward(boolean[] takeA, Tensor dOut, Tensor dA, Tensor dB) {
        own("selectBatchBackward", dOut, dA);
        if (dB != null) { own("selectBatchBackward", dB); sameShape("selectBatchBackward", dOut, dB); }
        require("selectBatchBackward", dOut.rank() >= 2 && takeA.length == dOut.dim(0) && dA.size() * dOut.dim(0) == dOut.size(),
                () -> takeA.length + " flags, dA " + dA.shapeString() + ", dOut " + dOut.shapeString());
        doSelectBatchBackward(takeA, dOut, dA, dB);
    }

    // ---------------------------------------------------------------- optimizers

    /** Decoupled AdamW, bias-corrected; step counts from 1. */
    public final void adamW(Tensor param, Tensor grad, Tensor m, Tensor v, double lr, double beta1, double beta2,
                            double eps, double weightDecay, long step) {
        own("adamW", param, grad, m, v);
        sameShape("adamW", param, grad); sameShape("adamW", param, m); sameShape("adamW", param, v);
        require("adamW", step >= 1, () -> "step counts from 1, got " + step);
        doAdamW(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step);
    }

    /**
     * Adafactor as flax.optim configured by the paper (spec §2.3): see {@link AdafactorSpec}. A 2-D parameter whose
     * two dims are both at least {@code spec.minDimToFactor()} keeps factored second moments: vRow [rows] and vCol
     * [cols]; any other keeps a full v (then vRow and vCol are ignored, and v may be null for factored ones).
     * m may be null when beta1 is 0. {@code step} counts from 0, as flax's does.
     */
    public final void adafactor(Tensor param, Tensor grad, Tensor m, Tensor v, Tensor vRow, Tensor vCol,
                                double lr, long step, AdafactorSpec spec) {
        own("adafactor", param, grad);
        sameShape("adafactor", param, grad);
        boolean factored = spec.factored(param);
        if (factored) {
            own("adafactor", vRow, vCol);
            require("adafactor", vRow.size() == param.rows() && vCol.size() == param.cols(),
                    () -> "factored moments of " + param.shapeString() + " must be [" + param.rows() + "] and [" + param.cols()
                            + "], got " + vRow.shapeString() + " and " + vCol.shapeString());
        } else {
            own("adafactor", v); sameShape("adafactor", param, v);
        }
        if (spec.beta1() > 0) { own("adafactor", m); sameShape("adafactor", param, m); }
        doAdafactor(param, grad, spec.beta1() > 0 ? m : null, v, vRow, vCol, factored, lr, step, spec);
    }

    @Override public void close() {}

    // ---------------------------------------------------------------- kernels

    protected abstract void doUpload(float[] data, Tensor t);
    protected abstract void doUpload(double[] data, Tensor t);
    protected abstract float[] doDownload(Tensor t);
    protected abstract double[] doDownloadDouble(Tensor t);
    protected abstract Tensor doView(Tensor t, int[] shape);
    protected abstract void doCopy(Tensor src, Tensor dst);
    protected abstract void doFill(Tensor t, double value);
    protected abstract void doMatmul(int batch, int m, int n, int k, Tensor a, boolean transA, Tensor b, boolean transB,
                                     Tensor c, double alpha, double beta);

    /** One product after another; a GPU backend launches them together. */
    protected void doMatmulGroup(int m, int n, int k, List<Tensor> a, boolean transA, List<Tensor> b, boolean transB,
                                 List<Tensor> c, double alpha, double beta) {
        for (int i = 0; i < a.size(); i++) doMatmul(1, m, n, k, a.get(i), transA, b.get(i), transB, c.get(i), alpha, beta);
    }

    protected abstract void doAdd(Tensor a, Tensor b, Tensor out);
    protected abstract void doAxpy(double alpha, Tensor x, Tensor y);
    protected abstract void doScale(Tensor x, double alpha);
    protected abstract void doAddBroadcast(Tensor x, Tensor v, Tensor out);
    protected abstract void doSumBroadcast(Tensor dx, Tensor dv);
    protected abstract void doActivation(Activation f, Tensor x, Tensor out);
    protected abstract void doActivationBackward(Activation f, Tensor saved, Tensor dy, Tensor dx);
    protected abstract double doSumSquares(Tensor x);
    protected abstract void doRmsNorm(Tensor x, Tensor scale, double eps, Tensor out, Tensor rstd);
    protected abstract void doRmsNormBackward(Tensor x, Tensor scale, Tensor rstd, Tensor dy, Tensor dx, Tensor dScale);
    protected abstract void doL2NormHeads(Tensor x, int heads, double eps, Tensor out, Tensor rnorm);
    protected abstract void doL2NormHeadsBackward(Tensor y, Tensor rnorm, int heads, Tensor dy, Tensor dx);
    protected abstract void doEmbedding(Tensor table, int[] ids, Tensor out);
    protected abstract void doEmbeddingBackward(Tensor dOut, int[] ids, Tensor dTable);
    protected abstract void doGateFixed(Tensor c, Tensor z, Tensor bias, Tensor out);
    protected abstract void doGateFixedBackward(Tensor c, Tensor z, Tensor bias, Tensor dOut, Tensor dc, Tensor dz, Tensor dBias);
    protected abstract void doGateLstm(Tensor c, Tensor z, Tensor fPre, Tensor iPre, Tensor out);
    protected abstract void doGateLstmBackward(Tensor c, Tensor z, Tensor fPre, Tensor iPre, Tensor dOut,
                                               Tensor dc, Tensor dz, Tensor dfPre, Tensor diPre);
    protected abstract void doAttention(Tensor q, Tensor k, Tensor v, int heads, Tensor temperature, Sliding sliding,
                                        Tensor out, Tensor lse);
    protected abstract void doAttentionBackward(Tensor q, Tensor k, Tensor v, int heads, Tensor temperature, Sliding sliding,
                                                Tensor out, Tensor lse, Tensor dOut, Tensor dq, Tensor dk, Tensor dv,
                                                Tensor dTemperature, Tensor dRelBias);

    /** One attention after the other; a GPU backend runs them side by side. */
    protected void doAttentionPair(int heads, Attn a, Attn b) {
        for (Attn x : List.of(a, b)) doAttention(x.q(), x.k(), x.v(), heads, x.temperature(), null, x.out(), x.lse());
    }

    protected void doAttentionPairBackward(int heads, Attn a, AttnGrads ga, Attn b, AttnGrads gb) {
        doAttentionBackward(a.q(), a.k(), a.v(), heads, a.temperature(), null, a.out(), a.lse(), ga.dOut(), ga.dq(), ga.dk(),
                ga.dv(), ga.dTemperature(), null);
        doAttentionBackward(b.q(), b.k(), b.v(), heads, b.temperature(), null, b.out(), b.lse(), gb.dOut(), gb.dq(), gb.dk(),
                gb.dv(), gb.dTemperature(), null);
    }
    protected abstract double doCrossEntropy(Tensor logits, int[] targets, boolean[] mask, Tensor rowLoss);
    protected abstract void doCrossEntropyBackward(Tensor logits, int[] targets, boolean[] mask, double gradScale, Tensor dLogits);

    /** {@link #crossEntropyWithGradient}: by default the forward, then the backward from its row losses. */
    protected double doCrossEntropyWithGradient(Tensor logits, int[] targets, boolean[] mask, double gradScale,
                                                Tensor rowLoss, Tensor dLogits) {
        double total = doCrossEntropy(logits, targets, mask, rowLoss);
        doCrossEntropyBackward(logits, targets, mask, gradScale, dLogits, rowLoss);
        return total;
    }

    /** Default: recompute, as without rowLoss. */
    protected void doCrossEntropyBackward(Tensor logits, int[] targets, boolean[] mask, double gradScale, Tensor dLogits,
                                          Tensor rowLoss) {
        doCrossEntropyBackward(logits, targets, mask, gradScale, dLogits);
    }
    /** Dropout forward (out = x * keep / (1-rate)) or, with accumulate, backward (out += x * keep / (1-rate)). */
    protected abstract void doDropout(Tensor x, Tensor out, double rate, long seed, int tileRows, boolean accumulate);
    /** Copies (or adds) {@code part} [G, len, C] to or from rows [start, start+len) of {@code whole} [G, T, C]. */
    protected abstract void doRowSlice(Tensor from, Tensor to, int start, boolean intoWhole, boolean accumulate);

    /** {@link #concatRows}, checked: by default one {@link #doRowSlice} per part. */
    protected void doConcatRows(List<Tensor> parts, Tensor out) {
        int at = 0;
        for (Tensor p : parts) { doRowSlice(p, out, at, true, false); at += p.dim(1); }
    }
    /** Column version of {@link #doRowSlice}: whole [R, C], part [R, len]. */
    protected abstract void doColSlice(Tensor from, Tensor to, int start, boolean intoWhole, boolean accumulate);
    protected abstract void doSelectBatch(boolean[] takeA, Tensor a, Tensor b, Tensor out);
    protected abstract void doSelectBatchBackward(boolean[] takeA, Tensor dOut, Tensor dA, Tensor dB);
    protected abstract void doAdamW(Tensor param, Tensor grad, Tensor m, Tensor v, double lr, double beta1, double beta2,
                                    double eps, double weightDecay, long step);
    protected abstract void doAdafactor(Tensor param, Tensor grad, Tensor m, Tensor v, Tensor vRow, Tensor vCol,
                                        boolean factored, double lr, long step, AdafactorSpec spec);

    // ---------------------------------------------------------------- argument checks

    protected static void require(String op, boolean ok, java.util.function.Supplier<String> why) {
        if (!ok) throw new IllegalArgumentException(op + ": " + why.get());
    }

    private void own(String op, Tensor... ts) {
        ownWeights(op, ts);
        for (Tensor t : ts) {
            if (t.quantized()) throw new IllegalArgumentException(op + ": int8 tensor " + t.shapeString() + " cannot be used here");
        }
    }

    /** Like {@link #own} but also accepts int8 weights. */
    private void ownWeights(String op, Tensor... ts) {
        for (Tensor t : ts) {
            if (t == null) throw new IllegalArgumentException(op + ": a tensor argument is null");
            if (t.backend() != this) {
                throw new IllegalArgumentException(op + ": tensor " + t.shapeString() + " belongs to the " + t.backend().name()
                        + " backend, not to " + name());
            }
        }
    }

    private static void sameShape(String op, Tensor a, Tensor b) {
        if (!a.sameShape(b)) throw new IllegalArgumentException(op + ": shapes " + a.shapeString() + " and " + b.shapeString() + " differ");
    }

    private static void sameSize(String op, Tensor a, Tensor b) {
        if (a.size() != b.size()) throw new IllegalArgumentException(op + ": sizes of " + a.shapeString() + " and " + b.shapeString() + " differ");
    }
}
