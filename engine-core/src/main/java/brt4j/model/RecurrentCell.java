package brt4j.model;

import brt4j.autograd.Graph;
import brt4j.autograd.Var;

import java.util.List;

/**
 * The state side of a recurrent layer (spec §1.7, the "horizontal direction"): from the state C_t and the keys and
 * values of block t's window, the next state C_{t+1}. The state path has no dropout, no mask and no position bias.
 *
 * <pre>
 *   c^ = Norm_s(C_t) + IDs                       IDs only feed the projections, never the state itself
 *   K_s, V_s, Q_s, Q'_s = projections of c^       keys and queries L2-normalized per head
 *   B_self  = Attn(Q_s,  K_s, V_s)                the states read each other
 *   B_cross = Attn(Q'_s, window K, window V)      the states read all 2W keys: previous block + current block
 *   h = [B_self || B_cross]                       [B, S, 2HD]
 *   skip:   C_{t+1} = G(C_t, h W_o, h)
 *   single: u = ReLU(h W_1); C_{t+1} = G(C_t, tanh(u W_2), u)         (tanh only here, as in [code-2022])
 *   dual:   C' = G1(C_t, h W_o, h); u = ReLU(Norm(C') W_1); C_{t+1} = G2(C', u W_2, u)
 * </pre>
 */
final class RecurrentCell {
    /** The state's keys, values and queries for one block, [B, S, HD] each. */
    record Projections(Var keys, Var values, Var queries, Var crossQueries) {}

    private final ModelConfig c;
    private final Parameters p;
    private final String prefix;

    RecurrentCell(ModelConfig config, Parameters params, int layer) {
        this.c = config;
        this.p = params;
        this.prefix = "layers." + layer + ".state.";
    }

    private Var w(String name) { return p.get(prefix + name); }

    /** The learned initial state [S, d]. */
    Var initialState() { return w("init"); }

    Projections project(Graph g, Var state) {
        Var normed = g.addBroadcast(g.rmsNorm(state, w("norm.scale"), c.normEps()), w("ids"));
        int h = c.nHeads();
        List<Var> kvq = g.linears(normed, List.of(w("k.weight"), w("v.weight"), w("q.weight"), w("q_cross.weight")));
        return new Projections(g.l2Heads(kvq.get(0), h, L2_EPS), kvq.get(1), g.l2Heads(kvq.get(2), h, L2_EPS),
                g.l2Heads(kvq.get(3), h, L2_EPS));
    }

    /** C_{t+1} from C_t, its projections, and the window's keys and values [B, 2W, HD]. */
    Var step(Graph g, Var state, Projections pr, Var windowKeys, Var windowValues) {
        int h = c.nHeads();
        Var hcat = g.concatCols(g.attentionPair(h, pr.queries(), pr.keys(), pr.values(), w("temperature"),
                pr.crossQueries(), windowKeys, windowValues, w("temperature_cross")));
        return switch (c.stateFfn()) {
            case SKIP -> gate(g, "gate.", state, g.linear(hcat, w("o.weight")), hcat);
            case SINGLE -> {
                Var u = g.relu(g.linear(hcat, w("ffn.w1.weight")));
                yield gate(g, "gate.", state, g.tanh(g.linear(u, w("ffn.w2.weight"))), u);
            }
            case DUAL -> {
                Var mid = gate(g, "gate.", state, g.linear(hcat, w("o.weight")), hcat);
                Var u = g.relu(g.linear(g.rmsNorm(mid, w("ffn_norm.scale"), c.normEps()), w("ffn.w1.weight")));
                yield gate(g, "gate2.", mid, g.linear(u, w("ffn.w2.weight")), u);
            }
        };
    }

    /** G(c, z, gate input): the fixed gate ignores the input; the LSTM gate projects it (spec §1.7). */
    private Var gate(Graph g, String name, Var state, Var z, Var gateInput) {
        if (c.gate() == ModelConfig.Gate.FIXED) return g.gateFixed(state, z, w(name + "bias"));
        Var f = g.addBroadcast(g.linear(gateInput, w(name + "forget.weight")), w(name + "forget.bias"));
        Var i = g.addBroadcast(g.linear(gateInput, w(name + "input.weight")), w(name + "input.bias"));
        return g.gateLstm(state, z, f, i);
    }

    /** The epsilon of the per-head L2 norm of keys and queries (spec §1.3). */
    static final double L2_EPS = 1e-6;
}
