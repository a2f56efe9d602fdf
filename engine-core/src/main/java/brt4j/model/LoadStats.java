package brt4j.model;

import java.util.ArrayList;
import java.util.List;

/**
 * What one checkpoint load staged in float32 on the heap: the test's handle on the int8 load's peak memory, which
 * must never hold a whole float32 weight (only a block of its rows, or a small float32-only tensor).
 */
final class LoadStats {
    /** The largest float32 array, in floats, that was filled from the checkpoint. */
    int largestFloatBuffer;
    /** Parameters loaded as float32, and those quantized to int8 as they were read, in load order. */
    final List<String> float32 = new ArrayList<>(), int8 = new ArrayList<>();

    void staged(float[] buffer) { largestFloatBuffer = Math.max(largestFloatBuffer, buffer.length); }
}
