package brt4j.checkpoint;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Test helper: builds safetensors bytes by hand, with any header text, length field and data, valid or not. */
final class RawSafeTensors {
    private RawSafeTensors() {}

    /** 8-byte little-endian length of {@code header}, the header's UTF-8 bytes, then {@code dataBytes} zero bytes. */
    static byte[] file(String header, int dataBytes) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(h.length).put(h).array();
    }

    /** Like {@link #file} but with the length field set to {@code claimedLength} whatever the header's real size. */
    static byte[] withLength(long claimedLength, String header, int dataBytes) {
        byte[] out = file(header, dataBytes);
        ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putLong(0, claimedLength);
        return out;
    }

    /** A header with one tensor entry {@code name: {entry}}, for the one-field corruption cases. */
    static String oneTensor(String name, String entryJson) {
        return "{\"" + name + "\":" + entryJson + "}";
    }
}
