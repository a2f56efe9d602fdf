package brt4j.checkpoint;

import java.util.Arrays;

/**
 * One tensor's entry in a safetensors header, already validated: a known dtype, a shape of non-negative dims whose
 * element count fits in a long, and a byte range inside the file's data section of exactly elementCount * dtype size
 * bytes. Immutable ({@link #shape()} returns a copy).
 */
public final class TensorInfo {
    private final String name;
    private final DType dtype;
    private final long[] shape;
    private final long elementCount;
    private final long dataBegin;
    private final long dataEnd;

    TensorInfo(String name, DType dtype, long[] shape, long elementCount, long dataBegin, long dataEnd) {
        this.name = name;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.elementCount = elementCount;
        this.dataBegin = dataBegin;
        this.dataEnd = dataEnd;
    }

    public String name() {
        return name;
    }

    public DType dtype() {
        return dtype;
    }

    /** The dims, outermost first; empty for a scalar. A copy. */
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int axis) {
        return shape[axis];
    }

    /** The product of the dims (1 for a scalar, 0 if any dim is 0). */
    public long elementCount() {
        return elementCount;
    }

    public long byteSize() {
        return dataEnd - dataBegin;
    }

    /** Where the bytes start, relative to the start of the data section (the header's data_offsets[0]). */
    public long dataBegin() {
        return dataBegin;
    }

    /** Where the bytes end, exclusive, relative to the start of the data section (data_offsets[1]). */
    public long dataEnd() {
        return dataEnd;
    }

    public boolean hasShape(long... expected) {
        return Arrays.equals(shape, expected);
    }

    /** The shape as {@code [32, 16]}, the way error messages print it. */
    public String shapeString() {
        return Arrays.toString(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + " " + shapeString();
    }
}
