package brt4j.checkpoint;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Builds a safetensors file from tensors added in order, then {@link #write}s it.
 *
 * <p>What it guarantees: the file it writes is one that {@link SafeTensors} and the reference implementation read
 * back: tensors in insertion order, contiguous, little-endian, the header padded with spaces to a multiple of 8 bytes
 * so that the data section starts 8-aligned. F32/F64/I32/I64 are stored exactly; BF16 and F16 round to nearest even
 * ({@link HalfPrecision}). The write is atomic: the bytes go to a temporary file in the target's folder, which is
 * fsynced and then renamed over the target, and the folder is fsynced; a crash leaves either the old file or the new
 * one, plus at worst a stray {@code .<name>.*.tmp} file.
 *
 * <p>The arrays and segments passed to {@code add} are not copied: they must not change until {@link #write}
 * returns. Not thread-safe; a writer may be written more than once.
 */
public final class SafeTensorsWriter {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final JsonFactory JSON = new JsonFactory();
    private static final SecureRandom RANDOM = new SecureRandom();
    /** Conversion happens through a buffer of this many bytes, so writing never needs a second copy of a tensor. */
    private static final int CHUNK = 1 << 20;

    /** One tensor to write; source is a float[], double[], int[], long[] or MemorySegment. */
    private record Entry(String name, DType dtype, long[] shape, long elements, Object source) {}

    private final List<Entry> entries = new ArrayList<>();
    private final Set<String> names = new HashSet<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    /** Adds a {@code __metadata__} entry (kept in insertion order). */
    public SafeTensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /** Adds float data, stored as F32, BF16 or F16 (rounded to nearest even) or F64 (widened). */
    public SafeTensorsWriter add(String name, DType dtype, float[] data, long... shape) {
        requireOneOf(name, dtype, DType.F32, DType.BF16, DType.F16, DType.F64);
        return add(name, dtype, shape, data.length, data);
    }

    /** Adds F32 data. */
    public SafeTensorsWriter addF32(String name, float[] data, long... shape) {
        return add(name, DType.F32, data, shape);
    }

    /** Adds double data, stored as F64 or as F32 (rounded to nearest). */
    public SafeTensorsWriter add(String name, DType dtype, double[] data, long... shape) {
        requireOneOf(name, dtype, DType.F64, DType.F32);
        return add(name, dtype, shape, data.length, data);
    }

    /** Adds int data, stored as I32 or I64. */
    public SafeTensorsWriter add(String name, DType dtype, int[] data, long... shape) {
        requireOneOf(name, dtype, DType.I32, DType.I64);
        return add(name, dtype, shape, data.length, data);
    }

    /** Adds I32 data. */
    public SafeTensorsWriter addI32(String name, int[] data, long... shape) {
        return add(name, DType.I32, data, shape);
    }

    /** Adds long data, stored as I64. */
    public SafeTensorsWriter addI64(String name, long[] data, long... shape) {
        return add(name, DType.I64, shape, data.length, data);
    }

    /**
     * Adds raw bytes of any dtype, already little-endian, of exactly elementCount(shape) * dtype size bytes (a heap or
     * native segment, or one from {@link SafeTensors#segment}, which is how a tensor is copied unchanged).
     */
    public SafeTensorsWriter add(String name, DType dtype, MemorySegment bytes, long... shape) {
        long elements = elementCount(name, shape);
        long needed = Math.multiplyExact(elements, dtype.byteSize());
        if (bytes.byteSize() != needed) {
            throw new IllegalArgumentException("tensor " + name + ": " + bytes.byteSize() + " bytes given but " + dtype
                    + " " + Arrays.toString(shape) + " needs " + needed);
        }
        return add(name, dtype, shape, elements, bytes);
    }

    /** Names added so far, in order. */
    public List<String> names() {
        return entries.stream().map(Entry::name).toList();
    }

    /**
     * Writes the file atomically (see the class comment). I/O errors become a CheckpointException naming the file;
     * the target is then untouched and the temporary file removed.
     */
    public void write(Path target) {
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = null;
        try {
            // Not Files.createTempFile: that makes the file owner-only (0600), and the rename would keep that mode.
            tmp = dir.resolve("." + target.getFileName() + "." + Long.toHexString(RANDOM.nextLong()) + ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW)) {
                writeTo(ch);
                ch.force(true);
            }
            Durable.atomicRename(tmp, target);
            tmp = null;
            Durable.fsyncDirectory(dir);
        } catch (IOException e) {
            throw new CheckpointException(target + ": cannot write the file (" + Durable.describe(e) + ")", e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // The write already failed and says so; a stray temp file is harmless.
                }
            }
        }
    }

    /** The whole file as bytes (for tests and small files). */
    public byte[] toByteArray() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            out.write(headerWithLength());
            ByteBuffer buf = ByteBuffer.allocate(CHUNK);
            for (Entry e : entries) {
                writeData(e, buf, b -> out.write(b.array(), 0, b.remaining()));
            }
        } catch (IOException e) {
            throw new IllegalStateException(e); // cannot happen with a ByteArrayOutputStream
        }
        return out.toByteArray();
    }

    private void writeTo(FileChannel ch) throws IOException {
        writeFully(ch, ByteBuffer.wrap(headerWithLength()));
        ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK);
        for (Entry e : entries) {
            writeData(e, buf, b -> writeFully(ch, b));
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /** The 8-byte little-endian length, then the JSON header padded with spaces to a multiple of 8. */
    private byte[] headerWithLength() throws IOException {
        ByteArrayOutputStream json = new ByteArrayOutputStream();
        try (JsonGenerator g = JSON.createGenerator(json)) {
            g.writeStartObject();
            if (!metadata.isEmpty()) {
                g.writeObjectFieldStart(SafeTensorsHeader.METADATA_KEY);
                for (Map.Entry<String, String> m : metadata.entrySet()) {
                    g.writeStringField(m.getKey(), m.getValue());
                }
                g.writeEndObject();
            }
            long offset = 0;
            for (Entry e : entries) {
                long end = offset + e.elements() * e.dtype().byteSize();
                g.writeObjectFieldStart(e.name());
                g.writeStringField("dtype", e.dtype().name());
                g.writeArrayFieldStart("shape");
                for (long d : e.shape()) g.writeNumber(d);
                g.writeEndArray();
                g.writeArrayFieldStart("data_offsets");
                g.writeNumber(offset);
                g.writeNumber(end);
                g.writeEndArray();
                g.writeEndObject();
                offset = end;
            }
            g.writeEndObject();
        }
        byte[] header = json.toByteArray();
        int padded = (header.length + 7) & ~7;
        ByteBuffer out = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(padded).put(header);
        while (out.hasRemaining()) out.put((byte) ' ');
        return out.array();
    }

    private interface Sink {
        void accept(ByteBuffer filled) throws IOException;
    }

    /** Converts one tensor chunk by chunk into {@code buf} and hands each filled chunk to {@code sink}. */
    private static void writeData(Entry e, ByteBuffer buf, Sink sink) throws IOException {
        int size = e.dtype().byteSize();
        long perChunk = CHUNK / size;
        MemorySegment chunk = MemorySegment.ofBuffer(buf.clear());
        for (long start = 0; start < e.elements(); start += perChunk) {
            int n = (int) Math.min(perChunk, e.elements() - start);
            int from = (int) start; // array sources are int-indexed; segment sources use start directly
            switch (e.source()) {
                case float[] a -> {
                    switch (e.dtype()) {
                        case F32 -> MemorySegment.copy(a, from, chunk, F32, 0, n);
                        case BF16 -> { for (int i = 0; i < n; i++) chunk.setAtIndex(I16, i, HalfPrecision.floatToBf16(a[from + i])); }
                        case F16 -> { for (int i = 0; i < n; i++) chunk.setAtIndex(I16, i, HalfPrecision.floatToF16(a[from + i])); }
                        case F64 -> { for (int i = 0; i < n; i++) chunk.setAtIndex(F64, i, a[from + i]); }
                        default -> throw new AssertionError(e.dtype());
                    }
                }
                case double[] a -> {
                    switch (e.dtype()) {
                        case F64 -> MemorySegment.copy(a, from, chunk, F64, 0, n);
                        case F32 -> { for (int i = 0; i < n; i++) chunk.setAtIndex(F32, i, (float) a[from + i]); }
                        default -> throw new AssertionError(e.dtype());
                    }
                }
                case int[] a -> {
                    switch (e.dtype()) {
                        case I32 -> MemorySegment.copy(a, from, chunk, I32, 0, n);
                        case I64 -> { for (int i = 0; i < n; i++) chunk.setAtIndex(I64, i, a[from + i]); }
                        default -> throw new AssertionError(e.dtype());
                    }
                }
                case long[] a -> MemorySegment.copy(a, from, chunk, I64, 0, n);
                case MemorySegment s -> MemorySegment.copy(s, start * size, chunk, 0, (long) n * size);
                default -> throw new AssertionError(e.source().getClass());
            }
            buf.position(0).limit(n * size);
            sink.accept(buf);
            buf.clear();
        }
    }

    private SafeTensorsWriter add(String name, DType dtype, long[] shape, long length, Object source) {
        long elements = elementCount(name, shape);
        if (length != elements) {
            throw new IllegalArgumentException("tensor " + name + ": " + length + " values given but shape "
                    + Arrays.toString(shape) + " has " + elements);
        }
        if (name.equals(SafeTensorsHeader.METADATA_KEY)) {
            throw new IllegalArgumentException("a tensor cannot be named " + SafeTensorsHeader.METADATA_KEY);
        }
        if (!names.add(name)) {
            throw new IllegalArgumentException("tensor " + name + " was already added");
        }
        entries.add(new Entry(name, dtype, shape.clone(), elements, source));
        return this;
    }

    private static long elementCount(String name, long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor " + name + ": negative dim in shape " + Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    private static void requireOneOf(String name, DType dtype, DType... allowed) {
        for (DType a : allowed) {
            if (a == dtype) return;
        }
        throw new IllegalArgumentException("tensor " + name + ": cannot store this array type as " + dtype
                + " (allowed: " + Arrays.toString(allowed) + ")");
    }
}
