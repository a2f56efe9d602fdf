package brt4j.model;

import brt4j.autograd.Graph;
import brt4j.autograd.Var;
import brt4j.backend.Backend;
import brt4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * One transformer layer over a chunk of n = T*W tokens (spec §1.6, plus §1.7's vertical direction when the layer
 * reads a state). Layer-major evaluation calls it once per segment (n = N); block-major evaluation (feedback) once
 * per block (n = W).
 *
 * <pre>
 *   x^ = Drop(Norm(X));  Q, K = l2(x^ W_q), l2(x^ W_k);  V = x^ W_v            [B, n, HD]
 *   keys = [cache ; K]                                                          [B, W + n, HD]
 *   A_self = Attn(Q, keys, values; T5 bias, sliding mask, attention dropout)
 *   reads a state:  A_cross = Attn(l2(x^ W_q'), K_s(C_t), V_s(C_t)) per block t;  A = [A_self || A_cross]
 *   Y = X + A W_o;  Out = Y + Drop(ReLU(Norm(Y) W_1) W_2)
 * </pre>
 */
final class Layer {
    /** What a layer hands on: its output, its keys and values (for the next block's or segment's cache), states. */
    record Output(Var x, Var keys, Var values, List<Var> states) {}

    /**
     * How this layer reads a state, if it does. {@code advance}: a recurrent layer over whole blocks reads its own
     * state C block by block and advances it (projections computed per block, or given for a one-block chunk in
     * feedback mode). Otherwise the chunk lies within one block and reads the given projections of that block's
     * state without advancing anything: feedback layers, and every state-reading layer during generation.
     */
    record StateInput(Var ownState, RecurrentCell.Projections projections, boolean advance) {
        static StateInput advancing(Var state, RecurrentCell.Projections given) { return new StateInput(state, given, true); }

        static StateInput reading(RecurrentCell.Projections p) { return new StateInput(null, p, false); }
    }

    static final int DROPOUT_TILE_ROWS = 128;   // [code-2022]: one (128, d) mask tile repeated over rows

    private final ModelConfig c;
    private final Parameters p;
    private final int index;
    private final String prefix;
    private final RecurrentCell cell;

    Layer(ModelConfig config, Parameters params, int index) {
        this.c = config;
        this.p = params;
        this.index = index;
        this.prefix = "layers." + index + ".";
        this.cell = config.isRecurrent(index) ? new RecurrentCell(config, params, index) : null;
    }

    RecurrentCell cell() { return cell; }

    private Var w(String name) { return p.get(prefix + name); }

    /**
     * x [B, n, d]; cacheKeys, cacheValues [B, W, HD]: the keys and values of the W positions before the chunk (the
     * previous block's in training, zeros at a document start); state as described by {@link StateInput}, or null
     * for a layer that reads none.
     */
    Output forward(Graph g, Var x, Var cacheKeys, Var cacheValues, StateInput state) {
        int h = c.nHeads(), win = c.window();
        Projected pr = project(g, x);
        Var normed = pr.normed(), q = pr.q(), k = pr.k(), v = pr.v();
        Var keys = g.concatRows(List.of(cacheKeys, k));
        Var values = g.concatRows(List.of(cacheValues, v));
        Var attn = g.attention(q, keys, values, h, w("attn.temperature"), w("attn.rel_bias"), win, c.relMaxDistance(), c.attnDropout());
        return finish(g, x, normed, attn, keys, values, k, v, state);
    }

    /**
     * Generation, a chunk x [B, n, d] at offset a of its block: keyWindow and valueWindow [B, 2W, HD] hold [previous
     * block ; current block]. The chunk's keys and values are written at rows [W + a, W + a + n), then its queries
     * read their W preceding keys where they lie ({@link Graph#windowAttention}), so nothing is copied per token. A
     * layer that reads a state reads the given projections (it never advances here). Returns the layer's output.
     */
    Var forwardInPlace(Graph g, Var x, Tensor keyWindow, Tensor valueWindow, int offset, StateInput state) {
        if (state != null && state.advance()) throw new IllegalArgumentException("layer " + index + ": forwardInPlace never advances a state");
        int h = c.nHeads(), win = c.window();
        Projected pr = project(g, x);
        Var normed = pr.normed(), q = pr.q(), k = pr.k(), v = pr.v();
        Backend be = g.backend();
        be.writeRows(k.value, win + offset, keyWindow);
        be.writeRows(v.value, win + offset, valueWindow);
        Var attn = g.windowAttention(q, keyWindow, valueWindow, offset, h, w("attn.temperature"), w("attn.rel_bias"), win, c.relMaxDistance());
        return finish(g, x, normed, attn, null, null, k, v, state).x();
    }

    /**
     * Only what later tokens read of this layer, for tokens whose own output nobody reads (the top layer's, for
     * every prompt token but the last): their keys and values, written into the window at {@code offset}. The
     * attention, the state read, A W_o and the FFN are skipped; the window ends up as {@link #forwardInPlace} leaves it.
     */
    void writeKeysValues(Graph g, Var x, Tensor keyWindow, Tensor valueWindow, int offset) {
        Var normed = normed(g, x);
        g.backend().writeRows(key(g, normed).value, c.window() + offset, keyWindow);
        g.backend().writeRows(g.linear(normed, w("attn.v.weight")).value, c.window() + offset, valueWindow);
    }

    private record Projected(Var normed, Var q, Var k, Var v) {}

    /** x^ = Drop(Norm(X)); Q, K = l2(x^ W_q), l2(x^ W_k); V = x^ W_v. */
    private Projected project(Graph g, Var x) {
        Var normed = normed(g, x);
        return new Projected(normed, g.l2Heads(g.linear(normed, w("attn.q.weight")), c.nHeads(), RecurrentCell.L2_EPS),
                key(g, normed), g.linear(normed, w("attn.v.weight")));
    }

    private Var normed(Graph g, Var x) {
        return g.dropout(g.rmsNorm(x, w("attn_norm.scale"), c.normEps()), c.dropout(), DROPOUT_TILE_ROWS);
    }

    private Var key(Graph g, Var normed) {
        return g.l2Heads(g.linear(normed, w("attn.k.weight")), c.nHeads(), RecurrentCell.L2_EPS);
    }

    /** The rest of the layer after the self-attention: the state cross-attention if any, A W_o, the FFN. */
    private Output finish(Graph g, Var x, Var normed, Var attn, Var keys, Var values, Var k, Var v, StateInput state) {
        int b = x.dim(0), n = x.dim(1), win = c.window(), h = c.nHeads(), hd = c.hd();
        int blocks = state != null && state.advance() ? n / win : 1;   // groups of queries reading one state each
        List<Var> states = new ArrayList<>();
        if (state != null) {
            List<Var> stateKeys = new ArrayList<>(), stateValues = new ArrayList<>();
            if (state.advance()) {
                // The horizontal direction: block t's state C_t is read by block t's tokens and advanced to C_{t+1}.
                Var cs = state.ownState();
                states.add(cs);
                for (int t = 0; t < blocks; t++) {
                    RecurrentCell.Projections pr = state.projections() != null ? state.projections() : cell.project(g, cs);
                    stateKeys.add(pr.keys());
                    stateValues.add(pr.values());
                    cs = cell.step(g, cs, pr, g.sliceRows(keys, t * win, 2 * win), g.sliceRows(values, t * win, 2 * win));
                    states.add(cs);
                }
            } else {
                stateKeys.add(state.projections().keys());
                stateValues.add(state.projections().values());
            }
            // Tokens of block t cross-attend to the state of block t: groups are (batch row, block).
            int s = c.nStates();
            Var sk = g.view(stateKeys.size() == 1 ? stateKeys.get(0) : g.concatRows(stateKeys), b * blocks, s, hd);
            Var sv = g.view(stateValues.size() == 1 ? stateValues.get(0) : g.concatRows(stateValues), b * blocks, s, hd);
            Var qc = g.view(g.l2Heads(g.linear(normed, w("attn.q_cross.weight")), h, RecurrentCell.L2_EPS), b * blocks, n / blocks, hd);
            Var cross = g.view(g.attention(qc, sk, sv, h, w("attn.temperature_cross"), null, 0, 0, 0), b, n, hd);
            attn = g.concatCols(List.of(attn, cross));
        }
        Var y = g.add(x, g.linear(attn, w("attn.o.weight")));
        Var hidden = g.relu(g.linear(g.rmsNorm(y, w("ffn_norm.scale"), c.normEps()), w("ffn.w1.weight")));
        Var out = g.add(y, g.dropout(g.linear(hidden, w("ffn.w2.weight")), c.dropout(), DROPOUT_TILE_ROWS));
        return new Output(out, k, v, states);
    }
}
