package brt4j.model;

import brt4j.autograd.Var;
import brt4j.backend.Backend;
import brt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The invariants of spec §5, on the float64 reference backend. */
class ModelInvariantsTest {
    static final int W = 2, N = 8, V = Tiny.V, B = 2;

    static double maxDiff(double[] a, double[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    /** Logits of row r, positions [from, to). */
    static double[] rows(double[] logits, int r, int from, int to) {
        return Arrays.copyOfRange(logits, (r * N + from) * V, (r * N + to) * V);
    }

    // §5.5: one N-token segment equals N/W one-block segments that pass caches and state along.
    @ParameterizedTest
    @ValueSource(strings = {"Rec:fixed:skip", "Rec:lstm:dual", "Feedback:fixed:skip", "Slide"})
    void oneSegmentEqualsBlockSizedSegmentsWithCachesPassed(String family) {
        ModelConfig c = Tiny.config(family, W, N);
        BrtModel m = Tiny.model(c, 1);
        Backend be = m.backend();
        int[][] tok = Tiny.tokens(B, N, 5);
        double[] whole = Tiny.logits(m, Tiny.run(m, new Batch(tok, Tiny.flags(true, true)), Memory.empty(c, be, B), false));
        Memory mem = Memory.empty(c, be, B);
        for (int t = 0; t < N / W; t++) {
            int[][] part = new int[B][];
            for (int r = 0; r < B; r++) part[r] = Arrays.copyOfRange(tok[r], t * W, (t + 1) * W);
            SegmentResult res = Tiny.run(m, new Batch(part, Tiny.flags(t == 0, t == 0)), mem, false);
            double[] l = Tiny.logits(m, res);
            for (int r = 0; r < B; r++) {
                double[] expected = rows(whole, r, t * W, (t + 1) * W);
                double[] got = Arrays.copyOfRange(l, r * W * V, (r + 1) * W * V);
                assertTrue(maxDiff(expected, got) < 1e-12, family + " block " + t + " row " + r + ": " + maxDiff(expected, got));
            }
            mem = res.memory();
        }
    }

    // §5.6: for a non-feedback model, layer-major and block-major evaluation agree.
    @ParameterizedTest
    @ValueSource(strings = {"Rec:fixed:skip", "Rec:lstm:single", "Slide"})
    void layerMajorEqualsBlockMajor(String family) {
        ModelConfig c = Tiny.config(family, W, N);
        BrtModel m = Tiny.model(c, 2);
        Batch batch = new Batch(Tiny.tokens(B, N, 6), Tiny.flags(true, true));
        double[] layerMajor = Tiny.logits(m, Tiny.run(m, batch, Memory.empty(c, m.backend(), B), false));
        m.blockMajor(true);
        double[] blockMajor = Tiny.logits(m, Tiny.run(m, batch, Memory.empty(c, m.backend(), B), false));
        assertTrue(maxDiff(layerMajor, blockMajor) < 1e-12, "max diff " + maxDiff(layerMajor, blockMajor));
    }

    // §5.7 and §5.8: a token changes nothing before it; the state it feeds is first read by the next block.
    @ParameterizedTest
    @ValueSource(ints = {2, 3, 5})
    void causalityAndStateOrdering(int p) {
        ModelConfig c = Tiny.config("Rec:fixed:skip", W, N);
        BrtModel m = Tiny.model(c, 3);
        int[][] tok = Tiny.tokens(B, N, 7);
        SegmentResult a = Tiny.run(m, new Batch(tok, Tiny.flags(true, true)), Memory.empty(c, m.backend(), B), true);
        tok[0][p] = tok[0][p] % (V - 1) + 1 == tok[0][p] ? tok[0][p] % (V - 2) + 1 : tok[0][p] % (V - 1) + 1;
        SegmentResult b = Tiny.run(m, new Batch(tok, Tiny.flags(true, true)), Memory.empty(c, m.backend(), B), true);
        double[] la = Tiny.logits(m, a), lb = Tiny.logits(m, b);
        assertArrayEquals(rows(la, 0, 0, p), rows(lb, 0, 0, p), "outputs before the perturbed token changed");
        assertArrayEquals(rows(la, 1, 0, N), rows(lb, 1, 0, N), "the other batch row changed");
        int block = p / W;
        List<Tensor> sa = a.states().get(1), sb = b.states().get(1);
        for (int t = 0; t <= block; t++) {
            assertArrayEquals(m.backend().downloadDouble(sa.get(t)), m.backend().downloadDouble(sb.get(t)), "C_" + t + " changed");
        }
        assertFalse(Arrays.equals(m.backend().downloadDouble(sa.get(block + 1)), m.backend().downloadDouble(sb.get(block + 1))),
                "C_" + (block + 1) + " must depend on block " + block);
        // The last token of a block: block t+1 changes beyond what attention alone can reach only through the state.
        if (p % W == W - 1 && (block + 2) * W <= N) {
            assertFalse(Arrays.equals(rows(la, 0, (block + 1) * W, (block + 2) * W), rows(lb, 0, (block + 1) * W, (block + 2) * W)));
        }
    }

    // §5.9: a row that starts a document ignores whatever the memory held.
    @Test
    void resetRowsIgnoreTheMemory() {
        ModelConfig c = Tiny.config("Rec:lstm:dual", W, N);
        BrtModel m = Tiny.model(c, 4);
        Backend be = m.backend();
        Batch batch = new Batch(Tiny.tokens(B, N, 8), Tiny.flags(true, false));
        Memory junk = Tiny.run(m, new Batch(Tiny.tokens(B, N, 9), Tiny.flags(true, true)), Memory.empty(c, be, B), false).memory();
        double[] fresh = Tiny.logits(m, Tiny.run(m, batch, Memory.empty(c, be, B), false));
        double[] after = Tiny.logits(m, Tiny.run(m, batch, junk, false));
        assertArrayEquals(rows(fresh, 0, 0, N), rows(after, 0, 0, N), "a reset row read the carried memory");
        assertFalse(Arrays.equals(rows(fresh, 1, 0, N), rows(after, 1, 0, N)), "a continuing row ignored the carried memory");
    }

    // §5.10: with the fixed gate's bias at +inf the state never moves from C_init.
    @Test
    void fixedGateAtPlusInfinityFreezesTheState() {
        ModelConfig c = Tiny.config("Rec:fixed:skip", W, N);
        BrtModel m = Tiny.model(c, 5);
        Backend be = m.backend();
        Var bias = m.parameters().get("layers.1.state.gate.bias");
        double[] big = new double[bias.value.size()];
        Arrays.fill(big, 60);
        be.copy(be.upload(big, bias.value.shape()), bias.value);
        SegmentResult r = Tiny.run(m, new Batch(Tiny.tokens(B, N, 10), Tiny.flags(true, true)), Memory.empty(c, be, B), true);
        double[] init = be.downloadDouble(m.parameters().get("layers.1.state.init").value);
        for (Tensor st : r.states().get(1)) {
            double[] s = be.downloadDouble(st);
            for (int i = 0; i < s.length; i++) assertEquals(init[i % init.length], s[i], 1e-12);
        }
    }

    // §5.11: with zero state IDs, permuting the state slots permutes the states and leaves the tokens alone.
    @Test
    void permutationEquivarianceNeedsZeroStateIds() {
        ModelConfig c = Tiny.config("Rec:fixed:skip", W, N);
        BrtModel m = Tiny.model(c, 6);
        Backend be = m.backend();
        Var ids = m.parameters().get("layers.1.state.ids"), init = m.parameters().get("layers.1.state.init");
        double[] idsValues = be.downloadDouble(ids.value);
        be.fill(ids.value, 0);
        Batch batch = new Batch(Tiny.tokens(B, N, 11), Tiny.flags(true, true));
        SegmentResult a = Tiny.run(m, batch, Memory.empty(c, be, B), true);
        int s = c.nStates(), d = c.dModel();
        int[] perm = {2, 0, 1};
        double[] c0 = be.downloadDouble(init.value), permuted = new double[c0.length];
        for (int i = 0; i < s; i++) System.arraycopy(c0, perm[i] * d, permuted, i * d, d);
        be.copy(be.upload(permuted, init.value.shape()), init.value);
        SegmentResult b = Tiny.run(m, batch, Memory.empty(c, be, B), true);
        assertTrue(maxDiff(Tiny.logits(m, a), Tiny.logits(m, b)) < 1e-12, "token outputs changed under a state permutation");
        double[] lastA = be.downloadDouble(a.states().get(1).getLast()), lastB = be.downloadDouble(b.states().get(1).getLast());
        for (int r = 0; r < B; r++) {
            for (int i = 0; i < s; i++) {
                for (int j = 0; j < d; j++) assertEquals(lastA[(r * s + perm[i]) * d + j], lastB[(r * s + i) * d + j], 1e-12);
            }
        }
        // Non-zero IDs break it: they are really used.
        be.copy(be.upload(idsValues, ids.value.shape()), ids.value);
        double[] withIds = Tiny.logits(m, Tiny.run(m, batch, Memory.empty(c, be, B), false));
        be.copy(be.upload(c0, init.value.shape()), init.value);
        double[] withIdsUnpermuted = Tiny.logits(m, Tiny.run(m, batch, Memory.empty(c, be, B), false));
        assertTrue(maxDiff(withIds, withIdsUnpermuted) > 1e-9);
    }

    // §5.12: zeroing the cross-attention half of the token projection gives the sliding-window model.
    @Test
    void recurrenceAblationEqualsSlidingWindowModel() {
        ModelConfig rc = Tiny.config("Rec:fixed:skip", W, N), sc = Tiny.config("Slide", W, N);
        Backend be = new brt4j.backend.ref.ReferenceBackend();
        BrtModel rec = Tiny.model(rc, be, 7), slide = Tiny.model(sc, be, 8);
        int hd = rc.hd(), d = rc.dModel();
        for (var e : slide.parameters().all().entrySet()) {
            double[] src = be.downloadDouble(rec.parameters().get(e.getKey()).value);
            if (e.getKey().equals("layers.1.attn.o.weight")) {
                double[] narrow = new double[d * hd];
                for (int r = 0; r < d; r++) System.arraycopy(src, r * 2 * hd, narrow, r * hd, hd);
                src = narrow;
                double[] wide = be.downloadDouble(rec.parameters().get(e.getKey()).value);
                for (int r = 0; r < d; r++) Arrays.fill(wide, r * 2 * hd + hd, (r + 1) * 2 * hd, 0);
                be.copy(be.upload(wide, 2 * hd * d), rec.parameters().get(e.getKey()).value);
            }
            be.copy(be.upload(src, e.getValue().value.shape()), e.getValue().value);
        }
        Batch batch = new Batch(Tiny.tokens(B, N, 12), Tiny.flags(true, true));
        double[] a = Tiny.logits(rec, Tiny.run(rec, batch, Memory.empty(rc, be, B), false));
        double[] b = Tiny.logits(slide, Tiny.run(slide, batch, Memory.empty(sc, be, B), false));
        assertTrue(maxDiff(a, b) < 1e-12, "max diff " + maxDiff(a, b));
    }

    // §5.14: no zero tokens -> every row counts N - 1 targets; bits = nats * log2(e). Zero tokens are masked.
    @Test
    void lossBookkeeping() {
        ModelConfig c = Tiny.config("Slide", W, N);
        BrtModel m = Tiny.model(c, 9);
        int[][] tok = Tiny.tokens(B, N, 13);
        SegmentResult r = Tiny.run(m, new Batch(tok, Tiny.flags(true, true)), Memory.empty(c, m.backend(), B), false);
        assertEquals(B * (N - 1), r.tokenCount());
        assertEquals(r.loss() * 1.442695, r.bitsPerToken(), 1e-6);
        tok[1][N - 1] = 0;
        tok[1][N - 2] = V;      // id V is 0 mod V: padding too
        r = Tiny.run(m, new Batch(tok, Tiny.flags(true, true)), Memory.empty(c, m.backend(), B), false);
        assertEquals(B * (N - 1) - 2, r.tokenCount());
    }

    // §5.16 and §2.1: non-embedding matrix parameters of the paper's sizes, and the extras of a recurrent layer.
    @Test
    void parameterCountsMatchThePaper() {
        assertEquals(150_994_944L, matrixParams(ModelConfig.preset("medium_150M")));
        assertEquals(37_748_736L, matrixParams(ModelConfig.preset("small_37M")));
        assertEquals(75_497_472L, matrixParams(ModelConfig.preset("small_75M")));
        assertEquals(150_994_944L / 12 * 13, matrixParams(ModelConfig.preset("Slide:13L")));
        long extra = ParamSpec.nonEmbeddingCount(ModelConfig.preset("Rec:fixed:skip")) - ParamSpec.nonEmbeddingCount(ModelConfig.preset("Slide:12L"));
        assertTrue(extra > 9_400_000 && extra < 9_500_000, "recurrent layer adds " + extra + " (spec §1.14: about 9.4M)");
        assertEquals(9, ModelConfig.preset("Rec:fixed:skip").recurrentLayers()[0], "(-3,) is 0-based layer 9 of 12");
    }

    /** The spec's counts are of the weight matrices (norm scales, temperatures and T5 bias tables excluded). */
    static long matrixParams(ModelConfig c) {
        long n = 0;
        for (ParamSpec p : ParamSpec.all(c)) if (p.shape().length == 2 && !p.name().equals("embed.weight") && !p.name().endsWith("rel_bias")) n += p.size();
        return n;
    }

    @Test
    void initializationFollowsTheSpec() {
        ModelConfig c = Tiny.config("Rec:lstm:skip", W, N).withVocab(500);
        Parameters p = Parameters.initialize(c, new brt4j.backend.ref.ReferenceBackend(), 42);
        Backend be = p.backend();
        assertEquals(1.0, std(be.downloadDouble(p.get("embed.weight").value)), 0.05);
        assertEquals(0.1, std(be.downloadDouble(p.get("layers.1.state.init").value)), 0.03);
        double[] temp = be.downloadDouble(p.get("layers.0.attn.temperature").value);
        for (double t : temp) assertEquals(1.0, t);
        double[] q = be.downloadDouble(p.get("layers.0.attn.q.weight").value);
        assertEquals(Math.sqrt(1.0 / c.dModel()), std(q), 0.1);
        for (double x : q) assertTrue(Math.abs(x) <= 2 * Math.sqrt(1.0 / c.dModel()) / 0.8796 + 1e-12, "not truncated at 2 sigma");
        Parameters again = Parameters.initialize(c, be, 42);
        assertArrayEquals(q, be.downloadDouble(again.get("layers.0.attn.q.weight").value), "same seed, same parameters");
    }

    static double std(double[] x) {
        double s = 0, ss = 0;
        for (double v : x) { s += v; ss += v * v; }
        double mean = s / x.length;
        return Math.sqrt(ss / x.length - mean * mean);
    }
}
