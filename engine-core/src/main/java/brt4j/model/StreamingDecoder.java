package brt4j.model;

import brt4j.autograd.Graph;
import brt4j.autograd.Var;
import brt4j.backend.Backend;
import brt4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads and writes text the way the model was trained, with memory that does not grow: tokens are fed in chunks
 * (a prompt a block at a time, generated text a token at a time) and every block boundary advances the recurrent
 * state exactly as training does. The logits of any sequence fed this way equal the training forward's logits over
 * the same sequence, whatever the chunking (the tests hold it to that).
 *
 * <p>Per layer it keeps the previous block's keys and values and the current block's so far, [B, W, HD] each: a
 * token at offset a of its block attends to the previous block's rows [a, W) and the current block's rows [0, a),
 * exactly the W tokens before it. Per recurrent layer it keeps the state C_t, and for the current block the
 * projections of C_t that the tokens cross-attend to (computed once per block). At the block's end the states
 * advance with the window [previous block ; current block], as in training (spec §1.7). (meliad froze the state
 * during generation, spec §1.13; this is the "advance the state every W tokens" the spec asks a reimplementation
 * to add.)
 *
 * <p>Not thread-safe: one decoder per stream.
 */
public final class StreamingDecoder implements AutoCloseable {
    private final BrtModel model;
    private final ModelConfig c;
    private final Backend be;
    private final Parameters p;
    private final int batch;
    private final Tensor[] prevK, prevV, curK, curV, state;
    private final Tensor zeroBlock;
    private Graph blockGraph;                          // holds the current block's state projections
    private RecurrentCell.Projections[] projections;   // per layer that reads a state, for the current block
    private int offset;                                // tokens of the current block seen so far
    private long position;

    public StreamingDecoder(BrtModel model, int batch) {
        this.model = model;
        this.c = model.config();
        this.be = model.backend();
        this.p = model.parameters();
        this.batch = batch;
        int n = c.nLayers();
        prevK = new Tensor[n]; prevV = new Tensor[n]; curK = new Tensor[n]; curV = new Tensor[n]; state = new Tensor[n];
        for (int i = 0; i < n; i++) {
            prevK[i] = be.zeros(batch, c.window(), c.hd());
            prevV[i] = be.zeros(batch, c.window(), c.hd());
            curK[i] = be.zeros(batch, c.window(), c.hd());
            curV[i] = be.zeros(batch, c.window(), c.hd());
            if (c.isRecurrent(i)) state[i] = be.zeros(batch, c.nStates(), c.dModel());
        }
        zeroBlock = be.zeros(c.window(), c.hd());
        reset();
    }

    public ModelConfig config() { return c; }

    /** Tokens consumed since the last reset. */
    public long position() { return position; }

    /** Starts a new document in every row: zero keys and values, the learned initial state (spec §1.8). */
    public void reset() {
        boolean[] all = new boolean[batch];
        Arrays.fill(all, true);
        for (int i = 0; i < c.nLayers(); i++) {
            for (Tensor t : new Tensor[]{prevK[i], prevV[i], curK[i], curV[i]}) be.fill(t, 0);
            if (state[i] != null) be.selectBatch(all, p.get("layers." + i + ".state.init").value, state[i], state[i]);
        }
        offset = 0;
        position = 0;
        closeBlock();
    }

    /**
     * Feeds tokens [B][m] (any m) and returns their logits, row-major [B, m, V]. Chunks are split at block
     * boundaries; each piece runs all layers in parallel over its tokens.
     */
    public float[] feed(int[][] tokens) {
        int m = tokens[0].length, v = c.vocabSize();
        if (tokens.length != batch) throw new IllegalArgumentException("decoder has " + batch + " rows, got " + tokens.length);
        float[] logits = new float[batch * m * v];
        int done = 0;
        while (done < m) {
            int len = Math.min(m - done, c.window() - offset);
            int[][] piece = new int[batch][];
            for (int r = 0; r < batch; r++) piece[r] = Arrays.copyOfRange(tokens[r], done, done + len);
            float[] l = feedWithinBlock(piece);
            for (int r = 0; r < batch; r++) System.arraycopy(l, r * len * v, logits, (r * m + done) * v, len * v);
            done += len;
        }
        return logits;
    }

    private float[] feedWithinBlock(int[][] tokens) {
        int m = tokens[0].length;
        if (projections == null) openBlock();
        int[] ids = new int[batch * m];
        for (int r = 0; r < batch; r++) for (int i = 0; i < m; i++) ids[r * m + i] = Math.floorMod(tokens[r][i], c.vocabSize());
        float[] logits;
        try (Graph g = new Graph(be, false, 0)) {
            Var x = g.embedding(p.get("embed.weight"), ids, batch, m);
            for (int i = 0; i < c.nLayers(); i++) {
                Layer.StateInput si = projections[i] == null ? null : Layer.StateInput.reading(projections[i]);
                Layer.Output out = model.layer(i).forward(g, x, preceding(g, prevK[i], curK[i]), preceding(g, prevV[i], curV[i]), si);
                be.writeRows(out.keys().value, offset, curK[i]);
                be.writeRows(out.values().value, offset, curV[i]);
                x = out.x();
            }
            logits = be.download(model.head(g, x).value);
        }
        offset += m;
        position += m;
        if (offset == c.window()) advanceBlock();
        return logits;
    }

    /** The W rows before the current offset: previous block [offset, W) then current block [0, offset). */
    private Var preceding(Graph g, Tensor prev, Tensor cur) {
        if (offset == 0) return Var.constant(prev);
        List<Var> parts = new ArrayList<>();
        parts.add(g.sliceRows(Var.constant(prev), offset, c.window() - offset));
        parts.add(g.sliceRows(Var.constant(cur), 0, offset));
        return g.concatRows(parts);
    }

    /** Projections of every state that this block's tokens read, computed once at the block's start. */
    private void openBlock() {
        blockGraph = new Graph(be, false, 0);
        projections = new RecurrentCell.Projections[c.nLayers()];
        RecurrentCell.Projections source = null;
        if (c.feedback()) {
            int src = c.feedbackSource();
            source = model.layer(src).cell().project(blockGraph, Var.constant(state[src]));
        }
        for (int i = 0; i < c.nLayers(); i++) {
            if (c.isRecurrent(i)) {
                projections[i] = (c.feedback() && i == c.feedbackSource()) ? source
                        : model.layer(i).cell().project(blockGraph, Var.constant(state[i]));
            } else if (c.feedback()) {
                projections[i] = source;
            }
        }
    }

    /** The block is complete: C_{t+1} from C_t and the window [previous block ; this block]; roll the windows. */
    private void advanceBlock() {
        try (Graph g = new Graph(be, false, 0)) {
            for (int i = 0; i < c.nLayers(); i++) {
                if (!c.isRecurrent(i)) continue;
                Var keys = g.concatRows(List.of(Var.constant(prevK[i]), Var.constant(curK[i])));
                Var values = g.concatRows(List.of(Var.constant(prevV[i]), Var.constant(curV[i])));
                Var next = model.layer(i).cell().step(g, Var.constant(state[i]), projections[i], keys, values);
                be.copy(next.value, state[i]);
            }
        }
        for (int i = 0; i < c.nLayers(); i++) {
            Tensor k = prevK[i], v = prevV[i];
            prevK[i] = curK[i]; prevV[i] = curV[i];
            curK[i] = k; curV[i] = v;
            be.fill(curK[i], 0);
            be.fill(curV[i], 0);
        }
        offset = 0;
        closeBlock();
    }

    private void closeBlock() {
        if (blockGraph != null) blockGraph.close();
        blockGraph = null;
        projections = null;
    }

    @Override public void close() {
        closeBlock();
        for (Tensor[] ts : new Tensor[][]{prevK, prevV, curK, curV, state}) for (Tensor t : ts) if (t != null) be.free(t);
        be.free(zeroBlock);
    }
}
