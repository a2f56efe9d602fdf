package brt4j.model;

import brt4j.autograd.Graph;
import brt4j.autograd.Var;

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
        int b = x.dim(0), n = x.dim(1), win = c.window(), h = c.nHeads(), hd = c.hd();
        int blocks = state != null && state.advance() ? n / win : 1;   // groups of queries reading one state each
        Var normed = g.dropout(g.rmsNorm(x, w("attn_norm.scale"), c.normEps()), c.dropout(), DROPOUT_TILE_ROWS);
        Var q = g.l2Heads(g.linear(normed, w("attn.q.weight")), h, RecurrentCell.L2_EPS);
        Var k = g.l2Heads(g.linear(normed, w("attn.k.weight")), h, RecurrentCell.L2_EPS);
        Var v = g.linear(normed, w("attn.v.weight"));
        Var keys = g.concatRows(List.of(cacheKeys, k));
        Var values = g.concatRows(List.of(cacheValues, v));
        Var attn = g.attention(q, keys, values, h, w("attn.temperature"), w("attn.rel_bias"), win, c.relMaxDistance(), c.attnDropout());

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
            Var sk = g.view(g.concatRows(stateKeys), b * blocks, s, hd);
            Var sv = g.view(g.concatRows(stateValues), b * blocks, s, hd);
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
