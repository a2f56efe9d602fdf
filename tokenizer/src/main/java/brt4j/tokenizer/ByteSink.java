package brt4j.tokenizer;

import java.util.Arrays;

/** A growable byte array that is reused between calls, so encoding a line allocates nothing once warm. */
final class ByteSink {
    byte[] data;
    int length;

    ByteSink(int capacity) {
        data = new byte[Math.max(16, capacity)];
    }

    void clear() {
        length = 0;
    }

    void add(byte b) {
        if (length == data.length) data = Arrays.copyOf(data, data.length * 2);
        data[length++] = b;
    }

    void add(byte[] src, int from, int count) {
        ensure(length + count);
        System.arraycopy(src, from, data, length, count);
        length += count;
    }

    void ensure(int capacity) {
        if (capacity > data.length) data = Arrays.copyOf(data, Math.max(capacity, data.length * 2));
    }

    boolean endsWith(byte[] suffix) {
        if (length < suffix.length) return false;
        for (int i = 0; i < suffix.length; i++) if (data[length - suffix.length + i] != suffix[i]) return false;
        return true;
    }

    byte[] toArray() {
        return Arrays.copyOf(data, length);
    }
}
