package brt4j.gpu;

import brt4j.backend.Backend;
import brt4j.backend.Backend.Activation;
import brt4j.tensor.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.function.BiConsumer;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * CUDA in bf16 mode (training's): products read a bf16 copy of each operand kept with its buffer and cast again only
 * after a write. Checked: a product with unchanged operands casts nothing (one launch: the product), and after every
 * kind of write to an operand (kernel output, product output, copy, fill, view, optimizer step) the next product
 * sees the new values. The writes move the product by far more than bf16's tolerance, so a stale copy fails.
 */
class Bf16OperandsTest extends TwinTest {
    /** brt check's bf16 threshold (engine-gpu/README.md), relative to the product's scale. */
    static final double BF16_TOL = 5e-2;

    @BeforeEach
    void setUp() { twins(Gpus.require("cuda-bf16"), 7); }

    void product(String what, Twin a, Twin w, Twin c) {
        ref.matmul(a.ref(), false, w.ref(), true, c.ref(), 1, 0);
        gpu.matmul(a.gpu(), false, w.gpu(), true, c.gpu(), 1, 0);
        compare(what, c);
    }

    @Test
    void unchangedOperandsAreCastOnce() {
        Twin a = rand(33, 130), w = rand(17, 130), c = rand(33, 17);
        product("first product", a, w, c);
        gpu.synchronize();
        long before = gpu.launches();
        gpu.matmul(a.gpu(), false, w.gpu(), true, c.gpu(), 1, 0);
        assertEquals(1, gpu.launches() - before, "a second product of the same operands casts nothing");
        gpu.axpy(1, c.gpu(), c.gpu());                      // c is written, a and w are not
        before = gpu.launches();
        gpu.matmul(a.gpu(), false, w.gpu(), true, c.gpu(), 1, 0);
        assertEquals(1, gpu.launches() - before, "writing the output does not recast the operands");
    }

    @Test
    void everyWriteRecastsTheWeight() {
        Twin a = rand(33, 130), w = rand(17, 130), c = rand(33, 17), x = rand(17, 130), g = rand(17, 130);
        Twin m = rand(17, 130), v = rand(17, 130);
        ref.fill(m.ref(), 0); gpu.fill(m.gpu(), 0);
        ref.fill(v.ref(), 0); gpu.fill(v.gpu(), 0);
        product("before any write", a, w, c);
        write("axpy", a, w, c, (be, t) -> be.axpy(3, pick(be, x), t));
        write("scale", a, w, c, (be, t) -> be.scale(t, -2));
        write("adamW", a, w, c, (be, t) -> be.adamW(t, pick(be, g), pick(be, m), pick(be, v), 0.5, 0.9, 0.98, 1e-8, 0.1, 1));
        write("copy", a, w, c, (be, t) -> be.copy(pick(be, x), t));
        write("fill 0.25", a, w, c, (be, t) -> be.fill(t, 0.25));
        write("fill 0", a, w, c, (be, t) -> be.fill(t, 0));
        write("activation output", a, w, c, (be, t) -> be.activation(Activation.TANH, pick(be, g), t));
        write("through a view", a, w, c, (be, t) -> be.scale(be.view(t, 130, 17), 4));
        Twin e = rand(17, 9), f = rand(9, 130);
        write("product output", a, w, c, (be, t) -> be.matmul(pick(be, e), false, pick(be, f), false, t, 1, 0));
        write("upload", a, w, c, (be, t) -> {
            float[] y = new float[t.size()];
            for (int i = 0; i < y.length; i++) y[i] = (float) Math.sin(i);
            Tensor u = be.upload(y, t.shape());
            be.copy(u, t);
        });
    }

    @Test
    void everyWriteRecastsTheActivation() {
        Twin a = rand(33, 130), w = rand(17, 130), c = rand(33, 17), x = rand(33, 130), scale = rand(130);
        product("before", a, w, c);
        ref.activation(Activation.RELU, x.ref(), a.ref()); gpu.activation(Activation.RELU, x.gpu(), a.gpu());
        assertProductOnly("relu wrote the activation and its bf16 copy", a, w, c);
        product("after relu wrote the activation", a, w, c);
        ref.rmsNorm(x.ref(), scale.ref(), 1e-6, a.ref(), ref.zeros(33)); gpu.rmsNorm(x.gpu(), scale.gpu(), 1e-6, a.gpu(), gpu.zeros(33));
        assertProductOnly("rmsNorm wrote the activation and its bf16 copy", a, w, c);
        product("after rmsNorm wrote the activation", a, w, c);
        ref.l2NormHeads(x.ref(), 2, 1e-6, a.ref(), ref.zeros(66)); gpu.l2NormHeads(x.gpu(), 2, 1e-6, a.gpu(), gpu.zeros(66));
        assertProductOnly("l2NormHeads wrote the activation and its bf16 copy", a, w, c);
        product("after l2NormHeads wrote the activation", a, w, c);
        ref.dropout(x.ref(), a.ref(), 0.5, 3, 0); gpu.dropout(x.gpu(), a.gpu(), 0.5, 3, 0);
        product("after dropout wrote the activation", a, w, c);
    }

    /**
     * The backward kernels whose outputs the products of the layer below read write the bf16 copy along with the
     * gradient (activation and per-head norm backward and the loss's gradient always, axpy where the target was a
     * product's operand before),
     * accumulating or onto fresh zeros; the next product sees the new values and casts nothing.
     */
    @Test
    void gradientKernelsWriteTheirBf16Copy() {
        Twin a = rand(33, 130), w = rand(17, 130), c = rand(33, 17), x = rand(33, 130), dy = rand(33, 130);
        product("before", a, w, c);                     // a keeps a bf16 copy from here on
        ref.activationBackward(Activation.TANH, x.ref(), dy.ref(), a.ref()); gpu.activationBackward(Activation.TANH, x.gpu(), dy.gpu(), a.gpu());
        assertProductOnly("activationBackward wrote the gradient and its bf16 copy", a, w, c);
        product("after activationBackward added into the gradient", a, w, c);
        Twin y = zeros(33, 130), rnorm = zeros(33, 2);
        ref.l2NormHeads(x.ref(), 2, 1e-6, y.ref(), rnorm.ref()); gpu.l2NormHeads(x.gpu(), 2, 1e-6, y.gpu(), rnorm.gpu());
        ref.l2NormHeadsBackward(y.ref(), rnorm.ref(), 2, dy.ref(), a.ref()); gpu.l2NormHeadsBackward(y.gpu(), rnorm.gpu(), 2, dy.gpu(), a.gpu());
        assertProductOnly("l2NormHeadsBackward wrote the gradient and its bf16 copy", a, w, c);
        product("after l2NormHeadsBackward added into the gradient", a, w, c);
        ref.axpy(-3, x.ref(), a.ref()); gpu.axpy(-3, x.gpu(), a.gpu());
        assertProductOnly("axpy wrote the operand and its bf16 copy", a, w, c);
        product("after axpy added into the operand", a, w, c);
        ref.fill(a.ref(), 0); gpu.fill(a.gpu(), 0);         // onto zeros not yet filled: the overwrite modes
        ref.axpy(2, dy.ref(), a.ref()); gpu.axpy(2, dy.gpu(), a.gpu());
        assertProductOnly("axpy onto fresh zeros wrote the operand and its bf16 copy", a, w, c);
        product("after axpy onto fresh zeros", a, w, c);
        ref.fill(a.ref(), 0); gpu.fill(a.gpu(), 0);
        ref.activationBackward(Activation.RELU, x.ref(), dy.ref(), a.ref()); gpu.activationBackward(Activation.RELU, x.gpu(), dy.gpu(), a.gpu());
        product("after activationBackward onto fresh zeros", a, w, c);
        int[] targets = new int[33];
        boolean[] mask = new boolean[33];
        for (int r = 0; r < 33; r++) { targets[r] = (r * 37) % 130; mask[r] = r % 4 != 1; }   // masked rows too
        ref.crossEntropyBackward(x.ref(), targets, mask, 2.5, a.ref()); gpu.crossEntropyBackward(x.gpu(), targets, mask, 2.5, a.gpu());
        assertProductOnly("crossEntropyBackward added into the gradient and wrote its bf16 copy", a, w, c);
        product("after crossEntropyBackward added into the gradient", a, w, c);
        ref.fill(a.ref(), 0); gpu.fill(a.gpu(), 0);
        ref.crossEntropyBackward(x.ref(), targets, mask, 2.5, a.ref()); gpu.crossEntropyBackward(x.gpu(), targets, mask, 2.5, a.gpu());
        assertProductOnly("crossEntropyBackward onto fresh zeros wrote the gradient and its bf16 copy", a, w, c);
        product("after crossEntropyBackward onto fresh zeros", a, w, c);
        Twin fresh = zeros(33, 130);                    // never a product's operand: axpy writes no copy, the product casts
        ref.axpy(1, x.ref(), fresh.ref()); gpu.axpy(1, x.gpu(), fresh.gpu());
        product("a fresh axpy target as operand", fresh, w, c);
    }

    /**
     * AdamW over several weights in one k_adamw_multi launch writes the bf16 copy of each weight that keeps one
     * (products read it before), so the next products cast nothing and see the updated weights; a weight no product
     * read gets no copy and is cast when a product first reads it.
     */
    @Test
    void adamWWritesTheWeightsBf16Copies() {
        Twin a = rand(33, 130), c = rand(33, 17), w1 = rand(17, 130), w2 = rand(17, 130), w3 = rand(17, 130);
        Twin[] g = {rand(17, 130), rand(17, 130), rand(17, 130)}, m = {rand(17, 130), rand(17, 130), rand(17, 130)};
        Twin[] v = {rand(17, 130), rand(17, 130), rand(17, 130)}, w = {w1, w2, w3};
        for (Twin x : v) { ref.fill(x.ref(), 0.04); gpu.fill(x.gpu(), 0.04); }   // second moments >= 0
        product("w1 before", a, w1, c);
        product("w2 before", a, w2, c);                  // w3 is not read by a product: it keeps no copy
        gpu.synchronize();
        for (int i = 0; i < 3; i++) {                   // collected, then one launch for the three
            ref.adamW(w[i].ref(), g[i].ref(), m[i].ref(), v[i].ref(), 0.5, 0.9, 0.98, 1e-8, 0.1, 3);
            gpu.adamW(w[i].gpu(), g[i].gpu(), m[i].gpu(), v[i].gpu(), 0.5, 0.9, 0.98, 1e-8, 0.1, 3);
        }
        long before = gpu.launches();
        gpu.synchronize();
        assertEquals(1, gpu.launches() - before, "the three updates are one launch");
        assertProductOnly("AdamW wrote w1's bf16 copy", a, w1, c);
        product("after AdamW, w1", a, w1, c);
        assertProductOnly("AdamW wrote w2's bf16 copy", a, w2, c);
        product("after AdamW, w2", a, w2, c);
        product("after AdamW, w3 (cast now)", a, w3, c);
        for (int i = 0; i < 3; i++) compare("w" + (i + 1) + " after AdamW", w[i]);
    }

    /**
     * Blocked attention in bf16 mode: the score products write S and dP as bf16 (-Dbrt.gpu().bf16Scores, on by
     * default), the softmax and the backward row kernels read them so and write p and ds as bf16 for the products
     * (the same rounding k_to_bf16 did afterwards); the relative bias's gradient sums the bf16 ds. Against the
     * float64 oracle at the bf16 threshold; inputs of scale 1 keep the absolute errors (about 1e-2 at most) under it.
     */
    @Test
    void attentionWithBf16ScoresMatchesTheOracle() {
        for (int w : new int[]{0, 4, 8}) {
            int g = 2, h = 3, d = 16, tq = w == 0 ? 8 : 2 * w, tk = w == 0 ? 11 : 3 * w;
            String what = "bf16 attention W=" + w;
            Twin q = rand(g, tq, h * d), k = rand(g, tk, h * d), v = rand(g, tk, h * d), temp = rand(h), rel = rand(h, 32);
            Window s = window(w, rel, 128, 0.1, 5);
            Twin out = zeros(g, tq, h * d), lse = zeros(g, h, tq);
            attention(q, k, v, h, temp, s, out, lse);
            compare(what + " out", out); compare(what + " lse", lse);
            Twin dOut = rand(g, tq, h * d), dq = rand(g, tq, h * d), dk = zeros(g, tk, h * d), dv = rand(g, tk, h * d);
            Twin dTemp = rand(h), dRel = zeros(h, 32);
            attentionBackward(q, k, v, h, temp, s, out, lse, dOut, dq, dk, dv, dTemp, dRel);
            compare(what + " dq", dq); compare(what + " dk", dk); compare(what + " dv", dv);
            compare(what + " dTemperature", dTemp);
            if (w > 0) compare(what + " dRelBias", dRel);
        }
    }

    void compare(String what, Twin t) { compare(what, t, BF16_TOL); }

    /** A group of products (the recurrent cell's projections) reads the same bf16 copies, recast after a write. */
    @Test
    void groupedProductsReadFreshCopies() {
        Twin a = rand(33, 130), w0 = rand(17, 130), w1 = rand(17, 130), c0 = rand(33, 17), c1 = rand(33, 17);
        group("first group", a, w0, w1, c0, c1);
        ref.scale(w1.ref(), -3); gpu.scale(w1.gpu(), -3);
        group("group after a weight was written", a, w0, w1, c0, c1);
    }

    private void group(String what, Twin a, Twin w0, Twin w1, Twin c0, Twin c1) {
        ref.matmulGroup(List.of(a.ref(), a.ref()), false, List.of(w0.ref(), w1.ref()), true, List.of(c0.ref(), c1.ref()), 1, 0);
        gpu.matmulGroup(List.of(a.gpu(), a.gpu()), false, List.of(w0.gpu(), w1.gpu()), true, List.of(c0.gpu(), c1.gpu()), 1, 0);
        compare(what + ", product 0", c0);
        compare(what + ", product 1", c1);
    }

    /** The kernel that wrote a also wrote its bf16 copy, and w's is cached: the product is the only launch. */
    private void assertProductOnly(String why, Twin a, Twin w, Twin c) {
        long before = gpu.launches();
        gpu.matmul(a.gpu(), false, w.gpu(), true, c.gpu(), 1, 0);
        assertEquals(1, gpu.launches() - before, why + ": no cast");
    }

    private void write(String what, Twin a, Twin w, Twin c, BiConsumer<Backend, Tensor> op) {
        op.accept(ref, w.ref());
        op.accept(gpu, w.gpu());
        product("product after " + what + " wrote the weight", a, w, c);
    }

    /** The twin's tensor on the given backend. */
    private Tensor pick(Backend be, Twin t) { return be == ref ? t.ref() : t.gpu(); }
}
