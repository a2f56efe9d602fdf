package brt4j.data;

/**
 * The byte vocabulary: 0 padding, 1 end of text, 2 unknown (unused), byte b -> b + 3; 259 ids (the paper pads its
 * byte vocabulary to 260). Needs no file, so the demo and the tests run with nothing downloaded.
 */
public final class ByteTokenizer implements TextTokenizer {
    public static final int OFFSET = 3;
    public static final int VOCAB = 256 + OFFSET;

    @Override public int vocabSize() { return VOCAB; }

    @Override public int[] encode(byte[] utf8) {
        int[] ids = new int[utf8.length];
        for (int i = 0; i < utf8.length; i++) ids[i] = (utf8[i] & 0xff) + OFFSET;
        return ids;
    }

    @Override public byte[] decode(int[] ids) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(ids.length);
        for (int id : ids) if (id >= OFFSET && id < VOCAB) out.write(id - OFFSET);
        return out.toByteArray();
    }

    @Override public String fingerprint() { return "bytes+3/v1"; }

    @Override public String describe() { return "bytes (" + VOCAB + " ids)"; }
}
