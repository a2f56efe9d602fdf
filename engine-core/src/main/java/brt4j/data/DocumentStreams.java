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
 *
 * <p>Data-parallel replicas each hold the streams of the whole (global) batch but read the tokens of their own rows
 * only ({@link #training(TokenSource, int[], int, int, long, int, int)}): the bookkeeping (which document each row
 * takes next, from the one queue) needs only document lengths, so every replica follows the same global order and
 * the union of the replicas' rows is exactly the one-replica run's batch; no document is read twice in an epoch.
 */
public final class DocumentStreams {
    private final TokenSource src;
    private final int[] docs;
    private final int rows, n;
    private final int firstRead, readRows;   // the rows whose tokens next() reads and returns
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

    private DocumentStreams(TokenSource src, int[] docs, int rows, int n, boolean endless, long seed, int firstRead, int readRows) {
        if (docs.length == 0) throw new IllegalArgumentException("no documents to stream (empty corpus or split)");
        if (rows <= 0 || n <= 0) throw new IllegalArgumentException("streams need rows > 0 and segment > 0, got " + rows + " and " + n);
        if (firstRead < 0 || readRows <= 0 || firstRead + readRows > rows) {
            throw new IllegalArgumentException("rows " + firstRead + ".." + (firstRead + readRows - 1) + " are not within the " + rows + " streams");
        }
        this.firstRead = firstRead;
        this.readRows = readRows;
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
        return training(src, docs, rows, segment, seed, 0, rows);
    }

    /**
     * {@code rows} training streams of which {@link #next} reads and returns rows {@code firstRead ..
     * firstRead + readRows - 1} (a data-parallel replica's share); the others advance by their lengths alone.
     */
    public static DocumentStreams training(TokenSource src, int[] docs, int rows, int segment, long seed, int firstRead, int readRows) {
        DocumentStreams s = new DocumentStreams(src, docs, rows, segment, true, seed, firstRead, readRows);
        for (int r = 0; r < rows; r++) s.rowDoc[r] = s.pull();
        return s;
    }

    public static DocumentStreams onePass(TokenSource src, int[] docs, int rows, int segment) {
        return new DocumentStreams(src, docs, rows, segment, false, 0, 0, rows);
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

    /** Rows whose tokens {@link #next} returns (all of them, except in a data-parallel replica). */
    public int readRows() { return readRows; }

    /** The next segment of every row read (rows {@code firstRead ..}, renumbered from 0); every row advances. */
    public Segment next() {
        int[][] tokens = new int[readRows][n];
        boolean[] start = new boolean[readRows];
        int[] doc = new int[readRows];
        long[] off = new long[readRows];
        for (int r = 0; r < rows; r++) {
            int d = rowDoc[r];
            int i = r - firstRead;
            boolean read = i >= 0 && i < readRows;
            if (read) {
                doc[i] = d;
                off[i] = rowOffset[r];
                start[i] = d < 0 || rowOffset[r] == 0;
            }
            if (d < 0) continue;
            int len = (int) Math.min(n, src.length(d) - rowOffset[r]);
            if (read) src.read(d, rowOffset[r], tokens[i], 0, len);
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
