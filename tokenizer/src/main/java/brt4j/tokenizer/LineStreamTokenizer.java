package brt4j.tokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Encodes or decodes a stream line by line, one line out for each line in, like spm_encode and spm_decode, on
 * any number of threads and in bounded memory: the input is read in blocks of whole lines (about
 * {@link #BLOCK_BYTES}, more only for a longer line), each block is cut into one slice per thread, and the
 * slices are written back in order. So files larger than memory stream through.
 */
public final class LineStreamTokenizer implements AutoCloseable {
    public enum Format { IDS, PIECES }

    static final int BLOCK_BYTES = 4 << 20;

    private final SentencePieceTokenizer tokenizer;
    private final int threads;
    private final ExecutorService pool;

    public LineStreamTokenizer(SentencePieceTokenizer tokenizer, int threads) {
        if (threads < 1) throw new IllegalArgumentException("Thread count " + threads + " must be at least 1.");
        this.tokenizer = tokenizer;
        this.threads = threads;
        this.pool = threads == 1 ? null : Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "tokenizer-stream");
            t.setDaemon(true);
            return t;
        });
    }

    /** Encodes each line of {@code in} to ids or pieces separated by spaces; returns the number of lines. */
    public long encode(InputStream in, OutputStream out, Format format) throws IOException {
        return process(in, out, (buffer, from, to, sink) -> encodeSlice(buffer, from, to, sink, format));
    }

    /** Decodes each line of space-separated ids or pieces back to text; returns the number of lines. */
    public long decode(InputStream in, OutputStream out, Format format) throws IOException {
        return process(in, out, (buffer, from, to, sink) -> decodeSlice(buffer, from, to, sink, format));
    }

    private interface SliceWork {
        void run(byte[] buffer, int from, int to, ByteSink out);
    }

    private long process(InputStream in, OutputStream out, SliceWork work) throws IOException {
        byte[] buffer = new byte[BLOCK_BYTES + 65536];
        int filled = 0;
        long lines = 0;
        boolean eof = false;
        ByteSink[] outputs = new ByteSink[threads];
        while (!eof || filled > 0) {
            while (!eof && filled < BLOCK_BYTES) {
                if (filled == buffer.length) buffer = Arrays.copyOf(buffer, buffer.length * 2);
                int n = in.read(buffer, filled, buffer.length - filled);
                if (n < 0) eof = true;
                else filled += n;
            }
            int end = lastNewline(buffer, filled);
            if (end < 0) {
                if (!eof) { // one line longer than the buffer: read more of it
                    if (filled == buffer.length) buffer = Arrays.copyOf(buffer, buffer.length * 2);
                    int n = in.read(buffer, filled, buffer.length - filled);
                    if (n < 0) eof = true;
                    else filled += n;
                    continue;
                }
                end = filled; // the last line has no newline
            }
            int blockEnd = end < filled ? end + 1 : end;
            lines += runSlices(buffer, blockEnd, work, outputs);
            for (ByteSink o : outputs) if (o != null) out.write(o.data, 0, o.length);
            System.arraycopy(buffer, blockEnd, buffer, 0, filled - blockEnd);
            filled -= blockEnd;
        }
        out.flush();
        return lines;
    }

    private static int lastNewline(byte[] buffer, int filled) {
        for (int i = filled - 1; i >= 0; i--) if (buffer[i] == '\n') return i;
        return -1;
    }

    /** Cuts {@code buffer[0, end)} into per-thread slices at line ends and processes them. */
    private long runSlices(byte[] buffer, int end, SliceWork work, ByteSink[] outputs) throws IOException {
        int[] bounds = new int[threads + 1];
        for (int t = 1; t < threads; t++) {
            int b = Math.max(bounds[t - 1], (int) ((long) end * t / threads));
            while (b < end && b > 0 && buffer[b - 1] != '\n') b++;
            bounds[t] = b;
        }
        bounds[threads] = end;
        long lines = 0;
        for (int i = 0; i < end; i++) if (buffer[i] == '\n') lines++;
        if (end > 0 && buffer[end - 1] != '\n') lines++;
        if (pool == null) {
            if (outputs[0] == null) outputs[0] = new ByteSink(1 << 16);
            outputs[0].clear();
            work.run(buffer, 0, end, outputs[0]);
            return lines;
        }
        // Each slice writes to a buffer its worker allocates: sinks side by side in memory slowed two threads
        // below one, through false sharing of their length fields.
        List<Future<ByteSink>> futures = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int from = bounds[t], to = bounds[t + 1];
            futures.add(pool.submit(() -> {
                ByteSink sink = new ByteSink((to - from) * 2 + 64);
                work.run(buffer, from, to, sink);
                return sink;
            }));
        }
        for (int t = 0; t < threads; t++) {
            Future<ByteSink> f = futures.get(t);
            try {
                outputs[t] = f.get();
            } catch (ExecutionException e) {
                if (e.getCause() instanceof RuntimeException r) throw r;
                throw new IOException(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("Interrupted while tokenizing.", e);
            }
        }
        return lines;
    }

    /** Processes the lines in {@code buffer[from, to)}; the range ends at a newline or the end of the input. */
    private void encodeSlice(byte[] buffer, int from, int to, ByteSink out, Format format) {
        EncoderScratch scratch = tokenizer.scratch();
        for (int lineStart = from; lineStart < to; ) {
            int lineEnd = lineStart;
            while (lineEnd < to && buffer[lineEnd] != '\n') lineEnd++;
            if (format == Format.IDS) {
                scratch.ids.clear();
                tokenizer.encodeInto(buffer, lineStart, lineEnd, scratch, scratch.ids);
                for (int k = 0; k < scratch.ids.length; k++) {
                    if (k > 0) out.add((byte) ' ');
                    appendInt(out, scratch.ids.data[k]);
                }
            } else {
                List<String> pieces = tokenizer.encodeAsPieces(Arrays.copyOfRange(buffer, lineStart, lineEnd));
                for (int k = 0; k < pieces.size(); k++) {
                    if (k > 0) out.add((byte) ' ');
                    byte[] b = pieces.get(k).getBytes(StandardCharsets.UTF_8);
                    out.add(b, 0, b.length);
                }
            }
            out.add((byte) '\n');
            lineStart = lineEnd + 1;
        }
    }

    private void decodeSlice(byte[] buffer, int from, int to, ByteSink out, Format format) {
        for (int lineStart = from; lineStart < to; ) {
            int lineEnd = lineStart;
            while (lineEnd < to && buffer[lineEnd] != '\n') lineEnd++;
            String line = new String(buffer, lineStart, lineEnd - lineStart, StandardCharsets.UTF_8);
            List<String> fields = line.isEmpty() ? List.of() : List.of(line.split(" ", -1));
            byte[] text;
            if (format == Format.IDS) {
                int[] ids = new int[fields.size()];
                for (int k = 0; k < ids.length; k++) {
                    try {
                        ids[k] = Integer.parseInt(fields.get(k));
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("'" + fields.get(k) + "' is not an id (expected space-separated integers).");
                    }
                }
                text = tokenizer.decodeToBytes(ids);
            } else {
                text = tokenizer.decodePiecesToBytes(fields);
            }
            out.add(text, 0, text.length);
            out.add((byte) '\n');
            lineStart = lineEnd + 1;
        }
    }

    private static void appendInt(ByteSink out, int v) {
        if (v < 0) {
            out.add((byte) '-');
            v = -v;
        }
        if (v < 10) {
            out.add((byte) ('0' + v));
            return;
        }
        out.ensure(out.length + 11);
        int start = out.length;
        while (v > 0) {
            out.data[out.length++] = (byte) ('0' + v % 10);
            v /= 10;
        }
        for (int i = start, j = out.length - 1; i < j; i++, j--) {
            byte t = out.data[i];
            out.data[i] = out.data[j];
            out.data[j] = t;
        }
    }

    @Override
    public void close() {
        if (pool != null) pool.shutdownNow();
    }
}
