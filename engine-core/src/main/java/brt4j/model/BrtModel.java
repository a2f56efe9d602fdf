package brt4j.model;

import brt4j.autograd.Graph;
import brt4j.autograd.Var;
import brt4j.backend.Backend;
import brt4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The Block-Recurrent Transformer (spec §1.2): embedding (no scaling), L layers with XL caches, recurrent layers
 * carrying a state across blocks, final RMS norm, tied output head scaled by a constant, masked cross-entropy.
 * The sliding-window and Transformer-XL baselines are the same code with no recurrent layer (XL: window = segment).
 *
 * <p>Evaluation order: layer-major (each layer over the whole segment, then the next), except feedback models,
 * which run block-major (every layer on block t, then block t+1) so that lower layers can read a state that a higher
 * layer wrote at earlier blocks (spec §1.11).
 */
public final class BrtModel {
    private final ModelConfig c;
    private final Parameters p;
    private final Layer[] layers;
    private boolean forceBlockMajor;

    public BrtModel(Parameters params) {
        this.c = params.config();
        this.p = params;
        this.layers = new Layer[c.nLayers()];
        for (int i = 0; i < layers.length; i++) layers[i] = new Layer(c, params, i);
    }

    public ModelConfig config() { return c; }

    /**
     * Evaluate block-major even without feedback (meliad's {@code stack_window_512.gin}): mathematically the same
     * model, which the tests check; feedback models are always block-major.
     */
    public BrtModel blockMajor(boolean on) { this.forceBlockMajor = on; return this; }

    public Parameters parameters() { return p; }

    public Backend backend() { return p.backend(); }

    /**
     * Runs one segment. When {@code g} records, {@code g.backward()} afterwards adds d(mean loss)/d(param) into the
     * parameters' gradients. The memory passed in is not modified.
     */
    public SegmentResult forward(Graph g, Batch batch, Memory memory, boolean trace) {
        return forward(g, batch, memory, trace, -1);
    }

    /**
     * Like {@link #forward(Graph, Batch, Memory, boolean)}, but the backward adds d(loss sum / meanOver)/d(param):
     * a data-parallel replica divides by the token count of the whole (global) batch, so that the replicas'
     * gradients sum to the one-replica gradient. {@code meanOver} below 0: this batch's own count.
     */
    public SegmentResult forward(Graph g, Batch batch, Memory memory, boolean trace, long meanOver) {
        Backend be = p.backend();
        int b = batch.rows(), n = batch.length(), win = c.window(), hd = c.hd();
        if (n % win != 0) {
            throw new IllegalArgumentException("segment of " + n + " tokens is not a multiple of the window " + win);
        }
        if (memory.batch() != b) throw new IllegalArgumentException("memory holds " + memory.batch() + " rows, batch has " + b);

        // Start of a document: XL cache -> zeros (not masked, spec §1.8), state -> the learned initial state. Where
        // no row starts one, the carried memory is read as it is (no copies; the caller keeps it until backward).
        boolean anyStart = false;
        for (boolean st : batch.start()) anyStart |= st;
        Tensor zeroKv = anyStart ? be.zeros(win, hd) : null;
        Var[] cacheK = new Var[c.nLayers()], cacheV = new Var[c.nLayers()], state = new Var[c.nLayers()];
        for (int i = 0; i < c.nLayers(); i++) {
            cacheK[i] = Var.constant(anyStart ? reset(be, batch.start(), zeroKv, memory.keys(i)) : memory.keys(i));
            cacheV[i] = Var.constant(anyStart ? reset(be, batch.start(), zeroKv, memory.values(i)) : memory.values(i));
            if (c.isRecurrent(i)) {
                Var carried = Var.constant(memory.state(i));
                state[i] = anyStart ? g.selectBatch(batch.start(), layers[i].cell().initialState(), carried) : carried;
            }
        }
        if (zeroKv != null) be.free(zeroKv);

        Var x = g.embedding(p.get("embed.weight"), batch.flatIds(c.vocabSize()), b, n);
        Map<Integer, Tensor> hidden = new HashMap<>();
        Map<Integer, List<Tensor>> states = new HashMap<>();
        Var[] lastKeys = new Var[c.nLayers()], lastValues = new Var[c.nLayers()];
        if (!c.feedback() && !forceBlockMajor) {
            for (int i = 0; i < c.nLayers(); i++) {
                Layer.StateInput si = c.isRecurrent(i) ? Layer.StateInput.advancing(state[i], null) : null;
                Layer.Output out = layers[i].forward(g, x, cacheK[i], cacheV[i], si);
                x = out.x();
                lastKeys[i] = out.keys();
                lastValues[i] = out.values();
                if (c.isRecurrent(i)) state[i] = out.states().getLast();
                if (trace) {
                    hidden.put(i, x.value);
                    if (c.isRecurrent(i)) states.put(i, out.states().stream().map(v -> v.value).toList());
                }
            }
        } else {
            x = forwardBlockMajor(g, x, cacheK, cacheV, state, lastKeys, lastValues, trace, hidden, states);
        }

        Var logits = head(g, x);
        boolean[] mask = batch.lossMask(c.vocabSize());
        int count = batch.lossCount(c.vocabSize());
        long over = meanOver < 0 ? count : meanOver;
        double[] rowLoss = g.crossEntropy(logits, batch.targets(c.vocabSize()), mask, over == 0 ? 0 : 1.0 / over);
        double sum = 0;
        for (double l : rowLoss) sum += l;

        return new SegmentResult(sum, count, rowLoss, logits, nextMemory(be, lastKeys, lastValues, state, b), hidden, states);
    }

    Layer layer(int i) { return layers[i]; }

    /** Final norm, dropout, and the tied output head scaled by the configured constant (spec §1.10). */
    Var head(Graph g, Var x) {
        Var normed = g.dropout(g.rmsNorm(x, p.get("final_norm.scale"), c.normEps()), c.dropout(), Layer.DROPOUT_TILE_ROWS);
        return g.linear(normed, p.get("embed.weight"), c.logitScale().factor(c));
    }

    /** All layers on block t, then block t + 1; with feedback, the state keys of block t feed every layer. */
    private Var forwardBlockMajor(Graph g, Var x, Var[] prevK, Var[] prevV, Var[] state, Var[] lastKeys, Var[] lastValues,
                           boolean trace, Map<Integer, Tensor> hidden, Map<Integer, List<Tensor>> states) {
        int win = c.window(), blocks = x.dim(1) / win, src = c.feedback() ? c.feedbackSource() : -1;
        List<Var> blockOutputs = new ArrayList<>();
        Map<Integer, List<Var>> hiddenBlocks = new HashMap<>();
        for (int i = 0; i < c.nLayers(); i++) {
            hiddenBlocks.put(i, new ArrayList<>());
            if (trace && c.isRecurrent(i)) states.put(i, new ArrayList<>(List.of(state[i].value)));
        }
        for (int t = 0; t < blocks; t++) {
            Var xt = g.sliceRows(x, t * win, win);
            // Feedback: the source layer's state keys and values for block t, computed before the stack runs on it.
            RecurrentCell.Projections fromSource = src < 0 ? null : layers[src].cell().project(g, state[src]);
            for (int i = 0; i < c.nLayers(); i++) {
                Layer.StateInput si = c.isRecurrent(i) ? Layer.StateInput.advancing(state[i], i == src ? fromSource : null)
                        : fromSource != null ? Layer.StateInput.reading(fromSource) : null;
                Layer.Output out = layers[i].forward(g, xt, prevK[i], prevV[i], si);
                xt = out.x();
                prevK[i] = out.keys();
                prevV[i] = out.values();
                if (c.isRecurrent(i)) {
                    state[i] = out.states().getLast();
                    if (trace) states.get(i).add(state[i].value);
                }
                if (trace) hiddenBlocks.get(i).add(xt);
            }
            blockOutputs.add(xt);
        }
        for (int i = 0; i < c.nLayers(); i++) {
            lastKeys[i] = prevK[i];
            lastValues[i] = prevV[i];
            if (trace) hidden.put(i, g.concatRows(hiddenBlocks.get(i)).value);
        }
        return blockOutputs.size() == 1 ? blockOutputs.get(0) : g.concatRows(blockOutputs);
    }

    private static Tensor reset(Backend be, boolean[] start, Tensor zeros, Tensor carried) {
        Tensor out = be.zeros(carried.shape());
        be.selectBatch(start, zeros, carried, out);
        return out;
    }

    /** Copies (never aliases: the graph may free its tensors) the last block's keys and values and the final states. */
    private Memory nextMemory(Backend be, Var[] lastKeys, Var[] lastValues, Var[] state, int b) {
        int win = c.window(), hd = c.hd();
        Tensor[] k = new Tensor[c.nLayers()], v = new Tensor[c.nLayers()], s = new Tensor[c.nLayers()];
        for (int i = 0; i < c.nLayers(); i++) {
            k[i] = be.zeros(b, win, hd);
            v[i] = be.zeros(b, win, hd);
            if (c.xlCache()) {
                int n = lastKeys[i].dim(1);
                be.sliceRows(lastKeys[i].value, n - win, k[i]);
                be.sliceRows(lastValues[i].value, n - win, v[i]);
            }
            // Without an XL cache every segment starts from zero keys, as at a document start: with segment <= window
            // (the only case config allows) that is meliad's "nocache" layout. UNVERIFIED against meliad; no fixture.
            if (c.isRecurrent(i)) {
                s[i] = be.zeros(state[i].shape());
                be.copy(state[i].value, s[i]);
            }
        }
        return Memory.of(k, v, s);
    }
}
