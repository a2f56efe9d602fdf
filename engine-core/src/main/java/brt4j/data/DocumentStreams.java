package brt4j.data;

import brt4j.backend.CounterRng;
import brt4j.model.Batch;

import java.util.Arrays;

/**
 * B document streams, one per batch row, cut into segments of N tokens (the paper's book streaming, spec §2.2). A
 * row reads its document in consecutive segments; the first segment of a document carries the start-of-document
 * flag (the model then resets that row's XL cache and state); the last one is padded with id 0, which the loss
 * ignores; then the row takes the next document from a shared queue.
 *
 * <p>Two modes. {@link #training}: the queue is the training documents in a fresh seeded permutation per epoch,
 * endless. {@link #onePass}: the documents in order, once; a row with no document left gets padding (all masked)
 * and {@link #exhausted} turns true when every row is done (evaluation).
 *
 * <p>The whole position is {@link #state()}: a queue cursor and per row (document, offset); restoring it continues
 * the identical stream (resume).
 */
public final class DocumentStreams {
    private final TokenSource src;
    private final int[] docs;
    private final int rows, n;
    private final boolean endless;
    private final long seed;
    private long cursor;
    private final int[] rowDoc;       // document index into src, -1 when the row is done (one-pass mode) or fresh
    private final long[] rowOffset;   // next token of rowDoc to emit
    private int[] perm;
    private long permEpoch = -1;

    /** Where each row's segment came from: document (or -1) and the offset of its first token. */
    public record Segment(Batch batch, int[] doc, long[] offset) {}

    public record State(long cursor, int[] rowDoc, long[] rowOffset) {}

    private DocumentStreams(TokenSource src, int[] docs, int rows, int n, boolean endless, long seed) {
        if (docs.length == 0) throw new IllegalArgumentException("no documents to stream (empty corpus or split)");
        if (rows <= 0 || n <= 0) throw new IllegalArgumentException("streams need rows > 0 and segment > 0, got " + rows + " and " + n);
        this.src = src;
        this.docs = docs.clone();
        this.rows = rows;
        this.n = n;
        this.endless = endless;
        this.seed = seed;
        this.rowDoc = new int[rows];
        this.rowOffset = new long[rows];
        Arrays.fill(rowDoc, -1);
        if (!endless) for (int r = 0; r < rows; r++) rowDoc[r] = pull();
    }

    public static DocumentStreams training(TokenSource src, int[] docs, int rows, int segment, long seed) {
        DocumentStreams s = new DocumentStreams(src, docs, rows, segment, true, seed);
        for (int r = 0; r < rows; r++) s.rowDoc[r] = s.pull();
        return s;
    }

    public static DocumentStreams onePass(TokenSource src, int[] docs, int rows, int segment) {
        return new DocumentStreams(src, docs, rows, segment, false, 0);
    }

    /** The next document index from the queue, or -1 when a one-pass queue is empty. */
    private int pull() {
        if (!endless) return cursor < docs.length ? docs[(int) cursor++] : -1;
        long epoch = cursor / docs.length;
        if (epoch != permEpoch) {
            perm = docs.clone();
            long s = CounterRng.mix(seed ^ CounterRng.mix(epoch + 1));
            for (int i = perm.length - 1; i > 0; i--) {   // Fisher-Yates with a counter-based generator
                s = CounterRng.mix(s + 0x9e3779b97f4a7c15L);
                int j = (int) Long.remainderUnsigned(s, i + 1);
                int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
            }
            permEpoch = epoch;
        }
        return perm[(int) (cursor++ % docs.length)];
    }

    public boolean exhausted() {
        for (int d : rowDoc) if (d >= 0) return false;
        return true;
    }

    public int rows() { return rows; }

    public int segment() { return n; }

    /** The next segment of every row. */
    public Segment next() {
        int[][] tokens = new int[rows][n];
        boolean[] start = new boolean[rows];
        int[] doc = new int[rows];
        long[] off = new long[rows];
        for (int r = 0; r < rows; r++) {
            int d = rowDoc[r];
            doc[r] = d;
            off[r] = rowOffset[r];
            if (d < 0) { start[r] = true; continue; }
            start[r] = rowOffset[r] == 0;
            int len = (int) Math.min(n, src.length(d) - rowOffset[r]);
            src.read(d, rowOffset[r], tokens[r], 0, len);
            rowOffset[r] += len;
            if (rowOffset[r] >= src.length(d)) {
                rowDoc[r] = pull();
                rowOffset[r] = 0;
            }
        }
        return new Segment(new Batch(tokens, start), doc, off);
    }

    public State state() { return new State(cursor, rowDoc.clone(), rowOffset.clone()); }

    public void restore(State s) {
        if (s.rowDoc().length != rows) {
            throw new IllegalArgumentException("saved data position has " + s.rowDoc().length + " rows, this run " + rows);
        }
        cursor = s.cursor();
        System.arraycopy(s.rowDoc(), 0, rowDoc, 0, rows);
        System.arraycopy(s.rowOffset(), 0, rowOffset, 0, rows);
    }
}
