package brt4j.generate;

import brt4j.model.BrtModel;
import brt4j.model.StreamingDecoder;

import java.util.function.IntConsumer;

/**
 * Text generation for one stream, to embed: feed a prompt (consumed a block at a time), then draw tokens one at a
 * time; every W tokens the recurrent state advances, so memory stays constant however long the text grows.
 * The state persists across calls (a conversation keeps its state between turns) until {@link #reset()}.
 *
 * <pre>
 *   try (Generator g = new Generator(model, new Sampling(0.8, 40, 0.95, 1))) {
 *       g.generate(tokenizer.encode(prompt), 200, id -> { System.out.print(tokenizer.decode(new int[]{id})); return true; });
 *   }
 * </pre>
 */
public final class Generator implements AutoCloseable {
    /** Receives each generated token; return false to stop. */
    @FunctionalInterface
    public interface TokenListener { boolean onToken(int id); }

    private final StreamingDecoder decoder;
    private final Sampler sampler;
    private final int vocab;
    private float[] lastLogits;

    public Generator(BrtModel model, Sampling sampling) { this(model, sampling, model.config().vocabSize()); }

    /**
     * Draws only ids below {@code vocab}: a tokenizer smaller than the model's vocabulary (bytes, 259 ids, under an
     * 8192-row head) cannot decode the rest, and a briefly trained model still gives them weight.
     */
    public Generator(BrtModel model, Sampling sampling, int vocab) {
        int rows = model.config().vocabSize();
        if (vocab < 1 || vocab > rows) {
            throw new IllegalArgumentException("generator: vocab must be in [1, " + rows + "] (the model's vocab_size), got " + vocab);
        }
        this.decoder = new StreamingDecoder(model, 1);
        this.sampler = new Sampler(sampling);
        this.vocab = vocab;
    }

    /** Consumes ids in blocks of W tokens (all tokens of a block in parallel); keeps the logits of the last one. */
    public void feed(int[] ids) { feed(ids, null); }

    /** As {@link #feed(int[])}, telling {@code fed} how many of the ids are in after each block (a long prompt's progress). */
    public void feed(int[] ids, IntConsumer fed) {
        if (ids.length > 0) lastLogits = decoder.feedForNext(new int[][]{ids}, fed);
    }

    /** Draws the next token from the last logits and feeds it back. */
    public int next() {
        if (lastLogits == null) throw new IllegalStateException("feed a prompt (at least one token) before generating");
        int id = sampler.next(lastLogits, 0, vocab);
        feed(new int[]{id});
        return id;
    }

    /** Feeds the prompt, then generates up to maxTokens, telling the listener of each; returns how many were made. */
    public int generate(int[] prompt, int maxTokens, TokenListener listener) {
        feed(prompt);
        int made = 0;
        while (made < maxTokens) {
            int id = next();
            made++;
            if (!listener.onToken(id)) break;
        }
        return made;
    }

    /** The logits after the last token fed, [V] (a copy). */
    public float[] lastLogits() { return lastLogits == null ? null : lastLogits.clone(); }

    public long position() { return decoder.position(); }

    /** Forgets everything: the next prompt starts a new document. */
    public void reset() {
        decoder.reset();
        lastLogits = null;
    }

    @Override public void close() { decoder.close(); }
}
