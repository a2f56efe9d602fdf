package brt4j.cli;

import brt4j.data.TextTokenizer;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Turns generated ids into text as they come. A token's bytes are what decoding the last few ids adds over decoding
 * them without it (so a piece keeps the space the tokenizer would give it mid-text), and bytes are released as text
 * only once they form whole UTF-8 characters (a byte-fallback character may span several tokens).
 */
final class TextStreamer {
    private static final int CONTEXT = 8;
    private final TextTokenizer codec;
    private int[] recent = new int[0];
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPLACE).onUnmappableCharacter(CodingErrorAction.REPLACE);
    private ByteBuffer pending = ByteBuffer.allocate(64);

    TextStreamer(TextTokenizer codec) { this.codec = codec; }

    /** Text that the token completes (may be empty). */
    String accept(int id) {
        int[] withNew = Arrays.copyOf(recent, recent.length + 1);
        withNew[recent.length] = id;
        byte[] before = recent.length == 0 ? new byte[0] : codec.decode(recent);
        byte[] after = codec.decode(withNew);
        recent = withNew.length > CONTEXT ? Arrays.copyOfRange(withNew, 1, withNew.length) : withNew;
        int common = 0;
        while (common < before.length && common < after.length && before[common] == after[common]) common++;
        byte[] added = Arrays.copyOfRange(after, common, after.length);
        return decode(added, false);
    }

    /** Whatever bytes are left, decoded (incomplete characters become U+FFFD). */
    String flush() { return decode(new byte[0], true); }

    private String decode(byte[] bytes, boolean end) {
        if (pending.remaining() < bytes.length) {
            ByteBuffer bigger = ByteBuffer.allocate(pending.capacity() + bytes.length + 64);
            pending.flip();
            bigger.put(pending);
            pending = bigger;
        }
        pending.put(bytes);
        pending.flip();
        CharBuffer out = CharBuffer.allocate(pending.remaining() + 4);
        utf8.decode(pending, out, end);
        if (end) utf8.flush(out);
        pending.compact();
        out.flip();
        return out.toString();
    }
}
