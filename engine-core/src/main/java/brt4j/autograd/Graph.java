package brt4j.autograd;

import brt4j.backend.Backend;
import brt4j.backend.Backend.Activation;
import brt4j.backend.CounterRng;
import brt4j.backend.Sliding;
import brt4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Differentiable ops over a {@link Backend}, recorded on a tape. Each method runs the forward kernel now and, when
 * any input needs a gradient, records a closure that adds the input gradients from the output gradient.
 * {@link #backward()} runs the closures newest first. A Graph built with {@code recording = false} runs the same
 * forward code with nothing recorded (evaluation, generation).
 *
 * <p>Dropout draws its masks from a seed per call ({@link #nextSeed()}), so a graph replayed with the same base seed
 * draws the same masks.
 */
public final class Graph implements AutoCloseable {
    private final Backend be;
    private final boolean recording;
    private final List<Step> tape = new ArrayList<>();
    private final List<Var> intermediates = new ArrayList<>();
    private final List<Tensor> owned = new ArrayList<>();
    private final long seed;
    private long seedCounter;

    public Graph(Backend backend, boolean recording, long seed) {
        this.be = backend;
        this.recording = recording;
        this.seed = seed;
    }

    public Backend backend() { return be; }

    public boolean recording() { return recording; }

    /** A fresh dropout seed, deterministic in the order of calls. */
    public long nextSeed() { return CounterRng.mix(seed * 0x9e3779b97f4a7c15L + (++seedCounter)); }

    // ---------------------------------------------------------------- plumbing

    private Var result(Tensor value, Var... inputs) {
        boolean needs = false;
        if (recording) for (Var v : inputs) needs |= v != null && v.requiresGrad;
        Var out = new Var(value, needs);
        intermediates.add(out);
        return out;
    }

    /** A backward closure and the outputs whose gradients it reads. */
    private record Step(Runnable backward, Var... outputs) {}

    private void record(Var out, Runnable backward) {
        if (out.requiresGrad) tape.add(new Step(backward, out));
    }

    /**
     * Runs the recorded backward closures, newest first. Seed gradients first (cross-entropy does it itself). An
     * output's gradient is complete before its closure runs (every reader of the output is newer) and read by nothing
     * after it, so it is freed there: the step's peak holds the activations and a few gradients in flight, not a
     * gradient beside every activation. The laptop config at 8 segments a step: {@code brt train} (dropout on) ran in
     * a 1.55 GB heap (1.4 failed) where it needed 2 GB (1.95 failed), the benchmark's step (no dropout) in 1.35 (1.2
     * failed) where it needed 2.35 (2.2 failed). A laptop with 8 GB gets a 2 GB heap by default. Same bits.
     */
    public void backward() {
        for (int i = tape.size() - 1; i >= 0; i--) {
            Step st = tape.get(i);
            st.backward().run();
            for (Var out : st.outputs()) out.releaseGrad();
        }
        tape.clear();
    }

    /** Adds {@code dOut} to the gradient of {@code out}: the seed of a backward pass from a non-loss output. */
    public void seedGrad(Var out, Tensor dOut) {
        if (out.requiresGrad) be.axpy(1, dOut, out.gradForWrite());
    }

    /**
     * A tensor of this graph's: freed by {@link #close}, like the values and gradients of its intermediates. Row
     * statistics and scratch gradients too: on a GPU a tensor left to the garbage collector holds its block until
     * the next collection, and the allocator asks the driver for new memory meanwhile (Rec's recurrent cell made 129
     * such requests a step on the H200).
     */
    private Tensor alloc(int... shape) {
        Tensor t = be.zeros(shape);
        owned.add(t);
        return t;
    }

    private static int[] withLast(int[] shape, int last) {
        int[] s = shape.clone();
        s[s.length - 1] = last;
        return s;
    }

    /** Frees the tensors of every intermediate (device memory; the GC does it on the CPU). */
    @Override public void close() {
        for (Var v : intermediates) {
            be.free(v.value);                           // views included (freeing twice is a no-op)
            if (v.grad != null) be.free(v.grad);
        }
        for (Tensor t : owned) be.free(t);
        intermediates.clear();
        owned.clear();
        tape.clear();
    }

    // ---------------------------------------------------------------- ops

    /** out [.., d] = table[ids mod V]; ids.length must equal the product of the leading dims. */
    public Var embedding(Var table, int[] ids, int... leading) {
        int[] shape = Arrays.copyOf(leading, leading.length + 1);
        shape[leading.length] = table.dim(-1);
        Var out = result(alloc(shape), table);
        be.embedding(table.value, ids, out.value);
        record(out, () -> { if (out.grad != null) be.embeddingBackward(out.grad, ids, table.gradForWrite()); });
        return out;
    }

    /** y = x W^T for x [.., in] and W [out, in] (PyTorch's layout). */
    public Var linear(Var x, Var w) {
        Var out = result(alloc(withLast(x.shape(), w.dim(0))), x, w);
        be.matmul(x.value, false, w.value, true, out.value, 1, 0);
        record(out, () -> {
            if (out.grad == null) return;
            if (x.requiresGrad) be.matmul(out.grad, false, w.value, false, x.gradForWrite(), 1, 1);
            if (w.requiresGrad) be.matmul(out.grad, true, x.value, false, w.gradForWrite(), 1, 1);
        });
        return out;
    }

    /**
     * y_i = x W_i^T for weights of one shape, as one group of products (see {@link Backend#matmulGroup}); the weight
     * gradients are one group too. Same values as one {@link #linear} per weight.
     */
    public List<Var> linears(Var x, List<Var> ws) {
        List<Var> outs = new ArrayList<>();
        List<Tensor> xs = new ArrayList<>(), wv = new ArrayList<>(), ov = new ArrayList<>();
        for (Var w : ws) {
            Var out = result(alloc(withLast(x.shape(), w.dim(0))), x, w);
            outs.add(out);
            xs.add(x.value);
            wv.add(w.value);
            ov.add(out.value);
        }
        be.matmulGroup(xs, false, wv, true, ov, 1, 0);
        if (outs.stream().anyMatch(o -> o.requiresGrad)) tape.add(new Step(() -> {   // after every reader of every output
            List<Tensor> dys = new ArrayList<>(), ins = new ArrayList<>(), dws = new ArrayList<>();
            for (int i = 0; i < ws.size(); i++) {
                Tensor dy = outs.get(i).grad;
                if (dy == null) continue;
                if (x.requiresGrad) be.matmul(dy, false, ws.get(i).value, false, x.gradForWrite(), 1, 1);
                if (ws.get(i).requiresGrad) { dys.add(dy); ins.add(x.value); dws.add(ws.get(i).gradForWrite()); }
            }
            if (!dys.isEmpty()) be.matmulGroup(dys, true, ins, false, dws, 1, 1);
        }, outs.toArray(Var[]::new)));
        return outs;
    }

    /** y = x W^T * alpha (the output head: logits scaled by a constant). */
    public Var linear(Var x, Var w, double alpha) {
        Var out = result(alloc(withLast(x.shape(), w.dim(0))), x, w);
        be.matmul(x.value, false, w.value, true, out.value, alpha, 0);
        record(out, () -> {
            if (out.grad == null) return;
            if (x.requiresGrad) be.matmul(out.grad, false, w.value, false, x.gradForWrite(), alpha, 1);
            if (w.requiresGrad) be.matmul(out.grad, true, x.value, false, w.gradForWrite(), alpha, 1);
        });
        return out;
    }

    public Var rmsNorm(Var x, Var scale, double eps) {
        Var out = result(alloc(x.shape()), x, scale);
        Tensor rstd = alloc(x.value.rows());
        be.rmsNorm(x.value, scale.value, eps, out.value, rstd);
        record(out, () -> {
            if (out.grad == null) return;
            be.rmsNormBackward(x.value, scale.value, rstd, out.grad, gradOrScratch(x), gradOrScratch(scale));
        });
        return out;
    }

    /** Per-head L2 normalization of queries and keys. */
    public Var l2Heads(Var x, int heads, double eps) {
        Var out = result(alloc(x.shape()), x);
        Tensor rnorm = alloc(x.value.rows() * heads);
        be.l2NormHeads(x.value, heads, eps, out.value, rnorm);
        record(out, () -> { if (out.grad != null) be.l2NormHeadsBackward(out.value, rnorm, heads, out.grad, x.gradForWrite()); });
        return out;
    }

    public Var add(Var a, Var b) {
        Var out = result(alloc(a.shape()), a, b);
        be.add(a.value, b.value, out.value);
        record(out, () -> {
            if (out.grad == null) return;
            if (a.requiresGrad) be.axpy(1, out.grad, a.gradForWrite());
            if (b.requiresGrad) be.axpy(1, out.grad, b.gradForWrite());
        });
        return out;
    }

    /** x + v with v tiled over x (bias rows, state IDs over the batch). */
    public Var addBroadcast(Var x, Var v) {
        Var out = result(alloc(x.shape()), x, v);
        be.addBroadcast(x.value, v.value, out.value);
        record(out, () -> {
            if (out.grad == null) return;
            if (x.requiresGrad) be.axpy(1, out.grad, x.gradForWrite());
            if (v.requiresGrad) be.sumBroadcast(out.grad, v.gradForWrite());
        });
        return out;
    }

    public Var relu(Var x) { return activation(Activation.RELU, x); }

    public Var tanh(Var x) { return activation(Activation.TANH, x); }

    public Var sigmoid(Var x) { return activation(Activation.SIGMOID, x); }

    private Var activation(Activation f, Var x) {
        Var out = result(alloc(x.shape()), x);
        be.activation(f, x.value, out.value);
        Tensor saved = f == Activation.RELU ? x.value : out.value;
        record(out, () -> { if (out.grad != null) be.activationBackward(f, saved, out.grad, x.gradForWrite()); });
        return out;
    }

    /** The same values under another shape (the gradient flows back unchanged). */
    public Var view(Var x, int... shape) {
        Var out = result(be.view(x.value, shape), x);
        record(out, () -> { if (out.grad != null) be.axpy(1, out.grad, x.gradForWrite()); });
        return out;
    }

    /** Dropout with a (tileRows x cols) mask tile repeated over rows; identity when rate is 0 or not training. */
    public Var dropout(Var x, double rate, int tileRows) {
        if (rate == 0 || !recording) return x;
        long s = nextSeed();
        Var out = result(alloc(x.shape()), x);
        be.dropout(x.value, out.value, rate, s, tileRows);
        record(out, () -> { if (out.grad != null) be.dropoutBackward(out.grad, x.gradForWrite(), rate, s, tileRows); });
        return out;
    }

    /**
     * Attention (spec §1.3) over q [G, Tq, H*D] and k, v [G, Tk, H*D]. With relBias non-null it is the token
     * self-attention's sliding window ({@link Sliding}); attnDropout applies there only, and only when recording.
     */
    public Var attention(Var q, Var k, Var v, int heads, Var temperature, Var relBias, int window, int maxDistance,
                         double attnDropout) {
        Sliding sliding = relBias == null ? null
                : new Sliding(window, relBias.value, maxDistance, recording ? attnDropout : 0, recording && attnDropout > 0 ? nextSeed() : 0);
        Var out = result(alloc(q.shape()), q, k, v, temperature, relBias);
        Tensor lse = alloc(q.dim(0), heads, q.dim(1));
        be.attention(q.value, k.value, v.value, heads, temperature.value, sliding, out.value, lse);
        record(out, () -> {
            if (out.grad == null) return;
            be.attentionBackward(q.value, k.value, v.value, heads, temperature.value, sliding, out.value, lse, out.grad,
                    gradOrScratch(q), gradOrScratch(k), gradOrScratch(v), gradOrScratch(temperature),
                    relBias == null ? null : gradOrScratch(relBias));
        });
        return out;
    }

    /**
     * Two independent attentions without mask, bias or dropout ({@link Backend#attentionPair}): the recurrent cell's
     * self-attention (q0 over k0, v0) and cross-attention (q1 over k1, v1) of one block. Returns both outputs.
     */
    public List<Var> attentionPair(int heads, Var q0, Var k0, Var v0, Var t0, Var q1, Var k1, Var v1, Var t1) {
        Var out0 = result(alloc(q0.shape()), q0, k0, v0, t0), out1 = result(alloc(q1.shape()), q1, k1, v1, t1);
        Backend.Attn a = new Backend.Attn(q0.value, k0.value, v0.value, t0.value, out0.value, alloc(q0.dim(0), heads, q0.dim(1)));
        Backend.Attn b = new Backend.Attn(q1.value, k1.value, v1.value, t1.value, out1.value, alloc(q1.dim(0), heads, q1.dim(1)));
        be.attentionPair(heads, a, b);
        if (out0.requiresGrad || out1.requiresGrad) tape.add(new Step(() -> {   // after every reader of both outputs
            if (out0.grad != null && out1.grad != null) {
                be.attentionPairBackward(heads, a, grads(out0, q0, k0, v0, t0), b, grads(out1, q1, k1, v1, t1));
            } else if (out0.grad != null || out1.grad != null) {
                Backend.Attn x = out0.grad != null ? a : b;
                Backend.AttnGrads gx = out0.grad != null ? grads(out0, q0, k0, v0, t0) : grads(out1, q1, k1, v1, t1);
                be.attentionBackward(x.q(), x.k(), x.v(), heads, x.temperature(), null, x.out(), x.lse(), gx.dOut(), gx.dq(),
                        gx.dk(), gx.dv(), gx.dTemperature(), null);
            }
        }, out0, out1));
        return List.of(out0, out1);
    }

    private Backend.AttnGrads grads(Var out, Var q, Var k, Var v, Var t) {
        return new Backend.AttnGrads(out.grad, gradOrScratch(q), gradOrScratch(k), gradOrScratch(v), gradOrScratch(t));
    }

    /**
     * Generation's self-attention over a key/value window held in place ({@link Backend#windowAttention}): keys and
     * values [G, T, H*D] are the decoder's buffers, not graph values. Forward only: a recording graph refuses it.
     */
    public Var windowAttention(Var q, Tensor keys, Tensor values, int start, int heads, Var temperature, Var relBias,
                               int window, int maxDistance) {
        if (recording) throw new IllegalArgumentException("windowAttention: inference only, the graph records gradients");
        Var out = result(alloc(q.shape()));
        be.windowAttention(q.value, keys, values, start, heads, temperature.value, new Sliding(window, relBias.value, maxDistance), out.value);
        return out;
    }

    private Tensor gradOrScratch(Var x) { return x.requiresGrad ? x.gradForWrite() : alloc(x.shape()); }

    /** Parts [G, Ti, C] stacked along dimension 1. */
    public Var concatRows(List<Var> parts) {
        int rows = 0;
        for (Var p : parts) rows += p.dim(1);
        Var first = parts.get(0);
        Var out = result(alloc(first.dim(0), rows, first.dim(2)), parts.toArray(new Var[0]));
        be.concatRows(parts.stream().map(p -> p.value).toList(), out.value);
        record(out, () -> {
            if (out.grad == null) return;
            int at = 0;
            for (Var p : parts) {
                if (p.requiresGrad) be.sliceRowsAccumulate(out.grad, at, p.gradForWrite());
                at += p.dim(1);
            }
        });
        return out;
    }

    /** Rows [start, start + len) along dimension 1 of x [G, T, C]. */
    public Var sliceRows(Var x, int start, int len) {
        Var out = result(alloc(x.dim(0), len, x.dim(2)), x);
        be.sliceRows(x.value, start, out.value);
        record(out, () -> { if (out.grad != null) be.sliceRowsBackward(out.grad, start, x.gradForWrite()); });
        return out;
    }

    /** Parts [.., Ci] side by side along the last dimension (the [self || cross] head concatenation). */
    public Var concatCols(List<Var> parts) {
        int cols = 0;
        for (Var p : parts) cols += p.dim(-1);
        Var out = result(alloc(withLast(parts.get(0).shape(), cols)), parts.toArray(new Var[0]));
        be.concatCols(parts.stream().map(p -> p.value).toList(), out.value);
        record(out, () -> {
            if (out.grad == null) return;
            int at = 0;
            for (Var p : parts) {
                if (p.requiresGrad) be.sliceColsAccumulate(out.grad, at, p.gradForWrite());
                at += p.dim(-1);
            }
        });
        return out;
    }

    /** Per batch row: a (shared [R, C]) where takeA, else b's row. The start-of-document reset. */
    public Var selectBatch(boolean[] takeA, Var a, Var b) {
        Var out = result(alloc(b.shape()), a, b);
        be.selectBatch(takeA, a.value, b.value, out.value);
        record(out, () -> {
            if (out.grad == null) return;
            be.selectBatchBackward(takeA, out.grad, gradOrScratch(a), b.requiresGrad ? b.gradForWrite() : null);
        });
        return out;
    }

    public Var gateFixed(Var c, Var z, Var bias) {
        Var out = result(alloc(c.shape()), c, z, bias);
        be.gateFixed(c.value, z.value, bias.value, out.value);
        record(out, () -> {
            if (out.grad != null) be.gateFixedBackward(c.value, z.value, bias.value, out.grad, gradOrScratch(c), gradOrScratch(z), gradOrScratch(bias));
        });
        return out;
    }

    public Var gateLstm(Var c, Var z, Var fPre, Var iPre) {
        Var out = result(alloc(c.shape()), c, z, fPre, iPre);
        be.gateLstm(c.value, z.value, fPre.value, iPre.value, out.value);
        record(out, () -> {
            if (out.grad != null) be.gateLstmBackward(c.value, z.value, fPre.value, iPre.value, out.grad,
                    gradOrScratch(c), gradOrScratch(z), gradOrScratch(fPre), gradOrScratch(iPre));
        });
        return out;
    }

    /**
     * Masked softmax cross-entropy; returns the per-row losses (0 where masked). When recording, gradScale *
     * dCE/dlogits is added into logits' gradient right away (gradScale = 1 / counted tokens gives the mean loss).
     */
    public double[] crossEntropy(Var logits, int[] targets, boolean[] mask, double gradScale) {
        Tensor rowLoss = alloc(logits.value.rows());
        if (recording && logits.requiresGrad) {
            // The loss is the graph's last op, so its gradient is the first to reach the logits: computed now, with
            // the loss, in one pass over each row; the backward of whatever made the logits finds it there.
            be.crossEntropyWithGradient(logits.value, targets, mask, gradScale, rowLoss, logits.gradForWrite());
        } else {
            be.crossEntropy(logits.value, targets, mask, rowLoss);
        }
        return be.downloadDouble(rowLoss);
    }
}
