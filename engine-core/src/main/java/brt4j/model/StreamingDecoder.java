package brt4j.model;

import brt4j.autograd.Graph;
import brt4j.autograd.Var;
import brt4j.backend.Backend;
import brt4j.tensor.Tensor;

import java.util.Arrays;
import java.util.function.IntConsumer;

/**
 * Reads and writes text the way the model was trained, with memory that does not grow: tokens are fed in chunks
 * (a prompt a block at a time, generated text a token at a time) and every block boundary advances the recurrent
 * state exactly as training does. The logits of any sequence fed this way equal the training forward's logits over
 * the same sequence, whatever the chunking (the tests hold it to that).
 *
 * <p>Per layer it keeps the keys and values of [previous block ; current block so far] in one [B, 2W, HD] buffer
 * each: a token at offset a of its block writes its key at row W + a and attends to rows [a, W + a), exactly the W
 * tokens before it, read where they lie ({@link brt4j.backend.Backend#windowAttention}: nothing is copied per token). Per recurrent layer it keeps the state C_t, and for the current block the
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
    private final Tensor[] keys, values, state;      // keys, values [B, 2W, HD]: [previous block ; current block]
    private final Tensor zeroBlock, rollScratch;       // [B, W, HD]
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
        keys = new Tensor[n]; values = new Tensor[n]; state = new Tensor[n];
        for (int i = 0; i < n; i++) {
            keys[i] = be.zeros(batch, 2 * c.window(), c.hd());
            values[i] = be.zeros(batch, 2 * c.window(), c.hd());
            if (c.isRecurrent(i)) state[i] = be.zeros(batch, c.nStates(), c.dModel());
        }
        zeroBlock = be.zeros(batch, c.window(), c.hd());
        rollScratch = be.zeros(batch, c.window(), c.hd());
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
            be.fill(keys[i], 0);
            be.fill(values[i], 0);
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
    public float[] feed(int[][] tokens) { return feed(tokens, false, null); }

    /**
     * Feeds tokens [B][m] (m >= 1) and returns only the logits of each row's last token, [B, V]: what generation
     * needs. The output head (V x d per token, as large as a few layers) runs for those B tokens only.
     */
    public float[] feedForNext(int[][] tokens) { return feedForNext(tokens, null); }

    /**
     * As {@link #feedForNext(int[][])}, telling {@code fed} how many tokens of each row are in after every piece (a
     * block, or what is left of one): the progress of a long prompt. The work is the same as without it.
     */
    public float[] feedForNext(int[][] tokens, IntConsumer fed) {
        if (tokens.length > 0 && tokens[0].length == 0) throw new IllegalArgumentException("feedForNext: no tokens to feed");
        return feed(tokens, true, fed);
    }

    private float[] feed(int[][] tokens, boolean lastOnly, IntConsumer fed) {
        if (tokens.length != batch) throw new IllegalArgumentException("decoder has " + batch + " rows, got " + tokens.length);
        int m = tokens[0].length, v = c.vocabSize();
        for (int[] row : tokens) {
            if (row.length != m) throw new IllegalArgumentException("every row must feed " + m + " tokens, got a row of " + row.length);
        }
        float[] logits = new float[lastOnly ? batch * v : batch * m * v];
        int done = 0;
        while (done < m) {
            int len = Math.min(m - done, c.window() - offset);
            int[][] piece = new int[batch][];
            for (int r = 0; r < batch; r++) piece[r] = Arrays.copyOfRange(tokens[r], done, done + len);
            boolean last = done + len == m;
            float[] l = feedWithinBlock(piece, lastOnly ? (last ? Head.LAST : Head.NONE) : Head.ALL);
            if (!lastOnly) for (int r = 0; r < batch; r++) System.arraycopy(l, r * len * v, logits, (r * m + done) * v, len * v);
            else if (last) logits = l;
            done += len;
            if (fed != null) fed.accept(done);
        }
        return logits;
    }

    /** Which tokens of a piece get logits. */
    private enum Head { ALL, LAST, NONE }

    private float[] feedWithinBlock(int[][] tokens, Head head) {
        int m = tokens[0].length;
        if (projections == null) openBlock();
        int[] ids = new int[batch * m];
        for (int r = 0; r < batch; r++) for (int i = 0; i < m; i++) ids[r * m + i] = Math.floorMod(tokens[r][i], c.vocabSize());
        float[] logits = null;
        try (Graph g = new Graph(be, false, 0)) {
            Var x = g.embedding(p.get("embed.weight"), ids, batch, m);
            int top = c.nLayers() - 1;
            for (int i = 0; i < top; i++) x = model.layer(i).forwardInPlace(g, x, keys[i], values[i], offset, stateInput(i));
            // The top layer's output feeds only the head: tokens without logits need just their keys and values there
            // (a prompt's tokens but its last: about one layer's work in L saved, the head's as before).
            int withOutput = head == Head.ALL ? m : head == Head.LAST ? 1 : 0;
            if (withOutput < m) {
                Var quiet = withOutput == 0 ? x : g.sliceRows(x, 0, m - 1);
                model.layer(top).writeKeysValues(g, quiet, keys[top], values[top], offset);
            }
            if (withOutput > 0) {
                Var in = withOutput == m ? x : g.sliceRows(x, m - 1, 1);
                x = model.layer(top).forwardInPlace(g, in, keys[top], values[top], offset + m - withOutput, stateInput(top));
                logits = be.download(model.head(g, x).value);
            }
        }
        offset += m;
        position += m;
        if (offset == c.window()) advanceBlock();
        return logits;
    }

    private Layer.StateInput stateInput(int layer) {
        return projections[layer] == null ? null : Layer.StateInput.reading(projections[layer]);
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
                Var next = model.layer(i).cell().step(g, Var.constant(state[i]), projections[i], Var.constant(keys[i]), Var.constant(values[i]));
                be.copy(next.value, state[i]);
            }
        }
        // This block becomes the previous one; the new current block starts as zeros (rows not yet written).
        for (Tensor[] kv : new Tensor[][]{keys, values}) {
            for (Tensor t : kv) {
                be.sliceRows(t, c.window(), rollScratch);
                be.writeRows(rollScratch, 0, t);
                be.writeRows(zeroBlock, c.window(), t);
            }
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
        for (Tensor[] ts : new Tensor[][]{keys, values, state}) for (Tensor t : ts) if (t != null) be.free(t);
        be.free(zeroBlock);
        be.free(rollScratch);
    }
}
