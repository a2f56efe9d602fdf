package brt4j.tokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;

/**
 * Reads '\n'-terminated lines of raw bytes from a stream into a reused buffer, like C++'s std::getline: the
 * newline is not part of the line, a final line without one still counts, and no empty line follows a final
 * newline. Bytes are not decoded, so malformed UTF-8 reaches the tokenizer as it is. Memory grows only to the
 * longest line.
 */
final class LineReader {
    private final InputStream in;
    private byte[] buffer;
    private int filled;   // bytes of buffer holding data
    private int next;     // where the next line starts
    private int scanned;  // bytes from next up to here hold no newline
    private int lineStart, lineEnd;
    private boolean eof;

    LineReader(InputStream in, int capacity) {
        this.in = in;
        this.buffer = new byte[Math.max(1024, capacity)];
    }

    /** Moves to the next line; false at the end of the stream. */
    boolean next() throws IOException {
        scanned = Math.max(scanned, next);
        while (true) {
            for (int i = scanned; i < filled; i++) {
                if (buffer[i] == '\n') {
                    lineStart = next;
                    lineEnd = i;
                    next = scanned = i + 1;
                    return true;
                }
            }
            scanned = filled;
            if (eof) {
                if (next < filled) {
                    lineStart = next;
                    lineEnd = filled;
                    next = scanned = filled;
                    return true;
                }
                return false;
            }
            if (next > 0) { // keep only the unfinished line, at the front
                System.arraycopy(buffer, next, buffer, 0, filled - next);
                filled -= next;
                scanned -= next;
                next = 0;
            }
            if (filled == buffer.length) buffer = Arrays.copyOf(buffer, buffer.length * 2);
            int n = in.read(buffer, filled, buffer.length - filled);
            if (n < 0) eof = true;
            else filled += n;
        }
    }

    byte[] buffer() {
        return buffer;
    }

    int start() {
        return lineStart;
    }

    int length() {
        return lineEnd - lineStart;
    }
}
