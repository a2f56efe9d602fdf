package brt4j.checkpoint;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A read-only, memory-mapped safetensors file.
 *
 * <p>What it guarantees: {@link #open} validates the whole header before returning (see {@link SafeTensorsHeader}:
 * known dtypes, consistent shapes and byte ranges, tensors that tile the data section exactly), so every later call
 * either returns the tensor's data or throws a {@link CheckpointException} whose message names the file and the
 * tensor. Data is never copied until asked for: {@link #segment} is a view of the mapping, and the array getters copy
 * and convert (little-endian, as the format prescribes). Indexing is by long, so files and tensors beyond 2 GB work
 * through {@link #segment}; the array getters need the tensor to fit in one Java array.
 *
 * <p>The file must not be modified in place while it is open (a mapped file that shrinks under the reader faults on
 * access). Checkpoints written by {@link SafeTensorsWriter} and {@link CheckpointDirectory} never are: they are
 * replaced by rename, and an open reader keeps seeing the old bytes.
 *
 * <p>Thread safety: immutable after {@code open}; any thread may read. {@link #close} unmaps the file, after which
 * every segment obtained from it is invalid (reads throw {@link IllegalStateException}, never crash the JVM), so
 * close only when no thread still reads.
 */
public final class SafeTensors implements AutoCloseable {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Java arrays cannot be quite Integer.MAX_VALUE long on most JVMs. */
    private static final long MAX_ARRAY = Integer.MAX_VALUE - 8;

    private final String file;
    private final Arena arena;
    private final MemorySegment data;
    private final Map<String, TensorInfo> tensors;
    private final List<String> names;
    private final Map<String, String> metadata;

    private SafeTensors(String file, Arena arena, MemorySegment bytes) {
        this.file = file;
        this.arena = arena;
        SafeTensorsHeader.Parsed parsed = SafeTensorsHeader.parse(file, bytes);
        this.data = bytes.asSlice(parsed.dataStart(), parsed.dataSize()).asReadOnly();
        Map<String, TensorInfo> byName = new LinkedHashMap<>();
        for (TensorInfo t : parsed.tensors()) {
            byName.put(t.name(), t);
        }
        this.tensors = Collections.unmodifiableMap(byName);
        this.names = List.copyOf(byName.keySet());
        this.metadata = parsed.metadata();
    }

    /** Maps and validates {@code path}. Close the result (try-with-resources) to unmap the file. */
    public static SafeTensors open(Path path) {
        String file = path.toString();
        if (Files.isDirectory(path)) {
            throw new CheckpointException(file + ": is a directory, not a safetensors file");
        }
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            MemorySegment bytes = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            return new SafeTensors(file, arena, bytes);
        } catch (IOException e) {
            arena.close();
            throw new CheckpointException(file + ": cannot read the file (" + Durable.describe(e) + ")", e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Validates a safetensors image already in memory (for tests, fuzzing, or bytes from elsewhere). The segment is
     * not copied, so it must outlive the result; {@code name} stands for the file in error messages. Closing the
     * result does nothing to {@code bytes}.
     */
    public static SafeTensors of(String name, MemorySegment bytes) {
        return new SafeTensors(name, null, bytes);
    }

    /** The file as given to {@link #open}, as used in error messages. */
    public String file() {
        return file;
    }

    /** Tensor names in the order of the file's header. */
    public List<String> names() {
        return names;
    }

    public int size() {
        return names.size();
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** The file's {@code __metadata__} (empty if absent), in header order. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** The tensor's header entry, or a CheckpointException "missing tensor X". */
    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new CheckpointException(file + ": missing tensor " + name);
        }
        return t;
    }

    /** All header entries, in file order. */
    public List<TensorInfo> infos() {
        return List.copyOf(tensors.values());
    }

    public DType dtype(String name) {
        return info(name).dtype();
    }

    public long[] shape(String name) {
        return info(name).shape();
    }

    /** The tensor's raw little-endian bytes: a read-only view of the mapping, valid until {@link #close}. */
    public MemorySegment segment(String name) {
        TensorInfo t = info(name);
        return data.asSlice(t.dataBegin(), t.byteSize());
    }

    /** Checks that the tensor exists, has exactly this dtype and exactly {@code shape}; returns its entry. */
    public TensorInfo require(String name, DType dtype, long... shape) {
        TensorInfo t = require(name, shape);
        if (t.dtype() != dtype) {
            throw new CheckpointException(file + ": tensor " + name + " has dtype " + t.dtype() + ", expected " + dtype);
        }
        return t;
    }

    /**
     * Checks that the tensor exists and has exactly {@code shape} (no dims: a scalar), whatever its dtype; returns its
     * entry.
     */
    public TensorInfo require(String name, long... shape) {
        TensorInfo t = info(name);
        if (!t.hasShape(shape)) {
            throw new CheckpointException(file + ": tensor " + name + " has shape " + t.shapeString() + ", expected "
                    + Arrays.toString(shape));
        }
        return t;
    }

    /** {@link #require(String, long...)} then {@link #floats}: a float tensor (F32, BF16, F16, F64) of that shape. */
    public float[] requireFloats(String name, long... shape) {
        require(name, shape);
        return floats(name);
    }

    /** {@link #require(String, long...)} then {@link #ints}: an integer tensor of that shape, as ints. */
    public int[] requireInts(String name, long... shape) {
        require(name, shape);
        return ints(name);
    }

    /** The tensor as float32: F32 as is, BF16 and F16 widened exactly, F64 rounded to nearest. */
    public float[] floats(String name) {
        TensorInfo t = info(name);
        float[] out = new float[arrayLength(t)];
        readFloatsInto(name, out, 0);
        return out;
    }

    /** Reads the tensor as float32 (see {@link #floats}) into {@code dst[off ..< off + elementCount]}. */
    public void readFloatsInto(String name, float[] dst, int off) {
        readFloatsInto(name, 0, arrayLength(info(name)), dst, off);
    }

    /**
     * Reads elements {@code [first, first + n)} of the tensor (row-major) as float32 (see {@link #floats}) into
     * {@code dst[off ..< off + n]}: a slice of a tensor too big to stage whole, e.g. a block of a weight's rows.
     */
    public void readFloatsInto(String name, long first, int n, float[] dst, int off) {
        TensorInfo t = info(name);
        java.util.Objects.checkFromIndexSize(first, n, t.elementCount());
        java.util.Objects.checkFromIndexSize(off, n, dst.length);
        long size = t.dtype().byteSize();
        MemorySegment s = data.asSlice(t.dataBegin() + first * size, n * size);
        switch (t.dtype()) {
            case F32 -> MemorySegment.copy(s, F32, 0, dst, off, n);
            case BF16 -> {
                for (int i = 0; i < n; i++) dst[off + i] = HalfPrecision.bf16ToFloat(s.getAtIndex(I16, i));
            }
            case F16 -> {
                for (int i = 0; i < n; i++) dst[off + i] = HalfPrecision.f16ToFloat(s.getAtIndex(I16, i));
            }
            case F64 -> {
                for (int i = 0; i < n; i++) dst[off + i] = (float) s.getAtIndex(F64, i);
            }
            default -> throw notA(t, "a floating-point dtype (F32, BF16, F16, F64)");
        }
    }

    /** The tensor as float64: every float dtype converts exactly. */
    public double[] doubles(String name) {
        TensorInfo t = info(name);
        int n = arrayLength(t);
        MemorySegment s = segment(name);
        double[] out = new double[n];
        switch (t.dtype()) {
            case F64 -> MemorySegment.copy(s, F64, 0, out, 0, n);
            case F32 -> {
                for (int i = 0; i < n; i++) out[i] = s.getAtIndex(F32, i);
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) out[i] = HalfPrecision.bf16ToFloat(s.getAtIndex(I16, i));
            }
            case F16 -> {
                for (int i = 0; i < n; i++) out[i] = HalfPrecision.f16ToFloat(s.getAtIndex(I16, i));
            }
            default -> throw notA(t, "a floating-point dtype (F32, BF16, F16, F64)");
        }
        return out;
    }

    /**
     * The tensor as ints: I32 as is; I8, U8, I16, U16 and BOOL (any nonzero byte reads as 1) widened;
     * I64, U32 and U64 when every value fits in an int, else a CheckpointException naming the first one that does not.
     */
    public int[] ints(String name) {
        TensorInfo t = info(name);
        int n = arrayLength(t);
        int[] out = new int[n];
        if (t.dtype() == DType.I32) {
            MemorySegment.copy(segment(name), I32, 0, out, 0, n);
            return out;
        }
        long[] wide = longs(name);
        for (int i = 0; i < n; i++) {
            if (wide[i] != (int) wide[i]) {
                throw new CheckpointException(file + ": tensor " + name + " holds " + wide[i]
                        + " at element " + i + ", outside the int range");
            }
            out[i] = (int) wide[i];
        }
        return out;
    }

    /** The tensor as longs: every integer dtype; U64 when every value is at most Long.MAX_VALUE. */
    public long[] longs(String name) {
        TensorInfo t = info(name);
        int n = arrayLength(t);
        MemorySegment s = segment(name);
        long[] out = new long[n];
        switch (t.dtype()) {
            case I64 -> MemorySegment.copy(s, I64, 0, out, 0, n);
            case U64 -> {
                MemorySegment.copy(s, I64, 0, out, 0, n);
                for (int i = 0; i < n; i++) {
                    if (out[i] < 0) {
                        throw new CheckpointException(file + ": tensor " + name + " holds "
                                + Long.toUnsignedString(out[i]) + " at element " + i + ", outside the long range");
                    }
                }
            }
            case I32 -> {
                for (int i = 0; i < n; i++) out[i] = s.getAtIndex(I32, i);
            }
            case U32 -> {
                for (int i = 0; i < n; i++) out[i] = Integer.toUnsignedLong(s.getAtIndex(I32, i));
            }
            case I16 -> {
                for (int i = 0; i < n; i++) out[i] = s.getAtIndex(I16, i);
            }
            case U16 -> {
                for (int i = 0; i < n; i++) out[i] = Short.toUnsignedInt(s.getAtIndex(I16, i));
            }
            case I8 -> {
                for (int i = 0; i < n; i++) out[i] = s.get(ValueLayout.JAVA_BYTE, i);
            }
            case U8 -> {
                for (int i = 0; i < n; i++) out[i] = Byte.toUnsignedInt(s.get(ValueLayout.JAVA_BYTE, i));
            }
            case BOOL -> {
                for (int i = 0; i < n; i++) out[i] = s.get(ValueLayout.JAVA_BYTE, i) != 0 ? 1 : 0;
            }
            default -> throw notA(t, "an integer dtype");
        }
        return out;
    }

    /** Unmaps the file (a no-op for {@link #of}). Segments handed out before become invalid. */
    @Override
    public void close() {
        if (arena != null && arena.scope().isAlive()) {
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "SafeTensors[" + file + ", " + names.size() + " tensors]";
    }

    private int arrayLength(TensorInfo t) {
        if (t.elementCount() > MAX_ARRAY) {
            throw new CheckpointException(file + ": tensor " + t.name() + " has " + t.elementCount()
                    + " elements, too many for one Java array (read it through segment())");
        }
        return (int) t.elementCount();
    }

    private CheckpointException notA(TensorInfo t, String expected) {
        return new CheckpointException(file + ": tensor " + t.name() + " has dtype " + t.dtype() + ", expected "
                + expected);
    }
}
