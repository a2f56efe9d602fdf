package brt4j.tokenizer;

import java.util.Arrays;

/** A growable int array reused between calls. */
final class IntSink {
    int[] data;
    int length;

    IntSink(int capacity) {
        data = new int[Math.max(16, capacity)];
    }

    void clear() {
        length = 0;
    }

    void add(int v) {
        if (length == data.length) data = Arrays.copyOf(data, data.length * 2);
        data[length++] = v;
    }

    int[] toArray() {
        return Arrays.copyOf(data, length);
    }
}
