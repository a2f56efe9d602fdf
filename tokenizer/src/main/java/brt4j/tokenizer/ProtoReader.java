package brt4j.tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * Reads the protobuf wire format (varints, fixed32, length-delimited fields) from a byte array, which is all a
 * SentencePiece ModelProto uses. Every read is bounds-checked: a truncated or foreign file ends in a
 * {@link ModelFormatException} naming the message being read, never in an index error.
 */
final class ProtoReader {
    static final int VARINT = 0, FIXED64 = 1, LENGTH_DELIMITED = 2, START_GROUP = 3, END_GROUP = 4, FIXED32 = 5;

    private final byte[] bytes;
    private final String where;
    private int position;
    private final int end;

    ProtoReader(byte[] bytes, String where) {
        this(bytes, 0, bytes.length, where);
    }

    private ProtoReader(byte[] bytes, int start, int end, String where) {
        this.bytes = bytes;
        this.position = start;
        this.end = end;
        this.where = where;
    }

    boolean hasMore() {
        return position < end;
    }

    /** The next field's tag: field number in the high bits, wire type in the low three. */
    int readTag() {
        long tag = readVarint();
        if (tag >>> 3 == 0 || tag > Integer.MAX_VALUE) throw malformed("an invalid field tag " + tag);
        return (int) tag;
    }

    long readVarint() {
        long value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (position >= end) throw malformed("a varint cut short");
            byte b = bytes[position++];
            value |= (long) (b & 0x7F) << shift;
            if (b >= 0) return value;
        }
        throw malformed("a varint longer than ten bytes");
    }

    int readInt32() {
        return (int) readVarint(); // negative int32 values are sign-extended to ten bytes; the low 32 bits are the value
    }

    boolean readBool() {
        return readVarint() != 0;
    }

    float readFloat() {
        return Float.intBitsToFloat(readFixed32());
    }

    int readFixed32() {
        if (end - position < 4) throw malformed("a fixed32 cut short");
        int v = (bytes[position] & 0xFF) | (bytes[position + 1] & 0xFF) << 8
                | (bytes[position + 2] & 0xFF) << 16 | (bytes[position + 3] & 0xFF) << 24;
        position += 4;
        return v;
    }

    byte[] readBytes() {
        int length = readLength();
        byte[] out = java.util.Arrays.copyOfRange(bytes, position, position + length);
        position += length;
        return out;
    }

    String readString() {
        int length = readLength();
        String s = new String(bytes, position, length, StandardCharsets.UTF_8);
        position += length;
        return s;
    }

    /** A reader over the embedded message that comes next; this reader moves past it. */
    ProtoReader readMessage(String name) {
        int length = readLength();
        ProtoReader inner = new ProtoReader(bytes, position, position + length, where + " " + name);
        position += length;
        return inner;
    }

    /** Skips a field this reader does not know, as proto2 requires. */
    void skipField(int tag) {
        switch (tag & 7) {
            case VARINT -> readVarint();
            case FIXED64 -> skip(8);
            case LENGTH_DELIMITED -> skip(readLength());
            case FIXED32 -> skip(4);
            case START_GROUP -> skipGroup(tag >>> 3);
            default -> throw malformed("wire type " + (tag & 7) + " on field " + (tag >>> 3));
        }
    }

    private void skipGroup(int fieldNumber) {
        while (true) {
            if (!hasMore()) throw malformed("a group cut short");
            int tag = readTag();
            if ((tag & 7) == END_GROUP) {
                if (tag >>> 3 != fieldNumber) throw malformed("a group closed by field " + (tag >>> 3));
                return;
            }
            skipField(tag);
        }
    }

    private void skip(int n) {
        if (end - position < n) throw malformed("a field cut short");
        position += n;
    }

    private int readLength() {
        long length = readVarint();
        if (length < 0 || length > end - position) throw malformed("a length of " + length + " past the end of the data");
        return (int) length;
    }

    /** Checks that a field has the wire type its schema gives it. */
    void expectWireType(int tag, int wireType, String field) {
        if ((tag & 7) != wireType) throw malformed("field " + field + " with wire type " + (tag & 7));
    }

    ModelFormatException malformed(String what) {
        return new ModelFormatException(where + " is truncated or not a SentencePiece model: found " + what + ".");
    }
}
