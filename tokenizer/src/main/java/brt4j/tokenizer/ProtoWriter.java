package brt4j.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** Writes the protobuf wire format: the inverse of {@link ProtoReader}, for the fields a ModelProto has. */
final class ProtoWriter {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    void writeVarint(int field, long value) {
        tag(field, ProtoReader.VARINT);
        varint(value);
    }

    void writeInt32(int field, int value) {
        writeVarint(field, value); // negative values sign-extend to ten bytes, as protobuf's int32 does
    }

    void writeBool(int field, boolean value) {
        writeVarint(field, value ? 1 : 0);
    }

    void writeFloat(int field, float value) {
        tag(field, ProtoReader.FIXED32);
        int bits = Float.floatToIntBits(value);
        out.write(bits);
        out.write(bits >>> 8);
        out.write(bits >>> 16);
        out.write(bits >>> 24);
    }

    void writeString(int field, String value) {
        writeBytes(field, value.getBytes(StandardCharsets.UTF_8));
    }

    void writeBytes(int field, byte[] value) {
        tag(field, ProtoReader.LENGTH_DELIMITED);
        varint(value.length);
        out.writeBytes(value);
    }

    void writeMessage(int field, ProtoWriter message) {
        writeBytes(field, message.toByteArray());
    }

    byte[] toByteArray() {
        return out.toByteArray();
    }

    private void tag(int field, int wireType) {
        varint((long) field << 3 | wireType);
    }

    private void varint(long value) {
        while ((value & ~0x7FL) != 0) {
            out.write((int) (value & 0x7F) | 0x80);
            value >>>= 7;
        }
        out.write((int) value);
    }
}
