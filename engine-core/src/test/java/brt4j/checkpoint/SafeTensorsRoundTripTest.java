package brt4j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Writes every dtype with SafeTensorsWriter and reads it back with SafeTensors. */
class SafeTensorsRoundTripTest {
    @TempDir
    Path dir;

    /** Floats that exercise the 16-bit conversions: specials, subnormals of both formats, ties, overflow. */
    private static float[] interestingFloats() {
        SplittableRandom rnd = new SplittableRandom(7);
        float[] fixed = {0f, -0f, 1f, -1f, 0.1f, -2.5f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
            Float.MIN_VALUE, Float.MIN_NORMAL, Float.MAX_VALUE, -Float.MAX_VALUE, 65504f, 65520f, 70000f, 1e-7f,
            5.9604645e-8f, 2.9802322e-8f, Float.intBitsToFloat(0x3F80_8000), Float.intBitsToFloat(0x3F81_8000)};
        float[] out = new float[fixed.length + 1000];
        System.arraycopy(fixed, 0, out, 0, fixed.length);
        for (int i = fixed.length; i < out.length; i++) {
            out[i] = Float.intBitsToFloat(rnd.nextInt());
        }
        return out;
    }

    @Test
    void everyWritableDtypeRoundTrips() {
        float[] f = interestingFloats();
        double[] d = {0.0, -0.0, Math.PI, Double.NaN, Double.NEGATIVE_INFINITY, Double.MIN_VALUE, 1e300, -1e-300};
        int[] ints = {0, 1, -1, Integer.MAX_VALUE, Integer.MIN_VALUE, 42};
        long[] longs = {0, Long.MAX_VALUE, Long.MIN_VALUE, -5};
        Path file = dir.resolve("all.safetensors");
        new SafeTensorsWriter()
                .metadata("format", "pt")
                .metadata("note", "ünïcödé \"quoted\"")
                .add("f32", DType.F32, f, f.length)
                .add("bf16", DType.BF16, f, f.length)
                .add("f16", DType.F16, f, f.length)
                .add("f64_from_float", DType.F64, f, f.length)
                .add("f64", DType.F64, d, 2, 4)
                .add("f32_from_double", DType.F32, d, 8)
                .add("i32", DType.I32, ints, 2, 3)
                .add("i64_from_int", DType.I64, ints, 6)
                .addI64("i64", longs, 4)
                .addF32("scalar", new float[] {3.5f})
                .addF32("empty", new float[0], 0, 3)
                .write(file);

        try (SafeTensors st = SafeTensors.open(file)) {
            assertEquals(List.of("f32", "bf16", "f16", "f64_from_float", "f64", "f32_from_double", "i32",
                    "i64_from_int", "i64", "scalar", "empty"), st.names());
            assertEquals(Map.of("format", "pt", "note", "ünïcödé \"quoted\""), st.metadata());
            assertArrayEquals(f, st.floats("f32"));
            float[] bf = st.floats("bf16");
            float[] hf = st.floats("f16");
            for (int i = 0; i < f.length; i++) {
                assertSameFloat(HalfPrecision.bf16ToFloat(HalfPrecision.floatToBf16(f[i])), bf[i]);
                assertSameFloat(HalfPrecision.f16ToFloat(HalfPrecision.floatToF16(f[i])), hf[i]);
            }
            assertEquals(DType.BF16, st.dtype("bf16"));
            assertArrayEquals(f, st.floats("f64_from_float"));
            assertArrayEquals(d, st.doubles("f64"));
            assertArrayEquals(new long[] {2, 4}, st.shape("f64"));
            float[] narrowed = new float[d.length];
            for (int i = 0; i < d.length; i++) narrowed[i] = (float) d[i];
            assertArrayEquals(narrowed, st.floats("f32_from_double"));
            assertArrayEquals(narrowed, st.floats("f64")); // F64 read as float rounds the same way
            assertArrayEquals(ints, st.ints("i32"));
            assertArrayEquals(ints, st.ints("i64_from_int"));
            assertArrayEquals(longs, st.longs("i64"));
            assertEquals(0, st.info("scalar").rank());
            assertEquals(3.5f, st.floats("scalar")[0]);
            assertEquals(0, st.floats("empty").length);
            assertArrayEquals(new long[] {0, 3}, st.shape("empty"));
            // Widening reads: F32 as doubles, BF16 as doubles.
            assertEquals((double) f[2], st.doubles("f32")[2]);
            assertEquals((double) bf[3], st.doubles("bf16")[3]);
        }
    }

    @Test
    void rawSegmentsOfEveryDtypeRoundTripAndConvert() {
        SafeTensorsWriter w = new SafeTensorsWriter();
        byte[] b = {0, 1, 2, (byte) 0xFF, (byte) 0x80, 0x7F, 0, 0};
        w.add("u8", DType.U8, MemorySegment.ofArray(b), 8);
        w.add("i8", DType.I8, MemorySegment.ofArray(b), 2, 4);
        w.add("bool", DType.BOOL, MemorySegment.ofArray(new byte[] {0, 1, 1, 0}), 4);
        w.add("i16", DType.I16, MemorySegment.ofArray(b), 4);
        w.add("u16", DType.U16, MemorySegment.ofArray(b), 4);
        w.add("u32", DType.U32, MemorySegment.ofArray(b), 2);
        w.add("u64", DType.U64, MemorySegment.ofArray(new byte[] {5, 0, 0, 0, 0, 0, 0, 0}), 1);
        w.add("f8", DType.F8_E4M3, MemorySegment.ofArray(b), 8);
        Path file = dir.resolve("raw.safetensors");
        w.write(file);
        try (SafeTensors st = SafeTensors.open(file)) {
            for (String name : st.names()) {
                assertArrayEquals(rawOf(name, b), st.segment(name).toArray(ValueLayout.JAVA_BYTE), name);
            }
            assertArrayEquals(new int[] {0, 1, 2, 255, 128, 127, 0, 0}, st.ints("u8"));
            assertArrayEquals(new int[] {0, 1, 2, -1, -128, 127, 0, 0}, st.ints("i8"));
            assertArrayEquals(new int[] {0, 1, 1, 0}, st.ints("bool"));
            assertArrayEquals(new int[] {0x0100, 0xFF02 - 0x10000, 0x7F80, 0}, st.ints("i16"));
            assertArrayEquals(new int[] {0x0100, 0xFF02, 0x7F80, 0}, st.ints("u16"));
            assertArrayEquals(new long[] {0xFF020100L, 0x00007F80L}, st.longs("u32"));
            assertArrayEquals(new int[] {5}, st.ints("u64"));
            CheckpointException e = assertThrows(CheckpointException.class, () -> st.ints("u32"));
            assertEquals(file + ": tensor u32 holds 4278321408 at element 0, outside the int range", e.getMessage());
            e = assertThrows(CheckpointException.class, () -> st.floats("f8"));
            assertEquals(file + ": tensor f8 has dtype F8_E4M3, expected a floating-point dtype (F32, BF16, F16, F64)",
                    e.getMessage());
            e = assertThrows(CheckpointException.class, () -> st.ints("f8"));
            assertTrue(e.getMessage().endsWith("tensor f8 has dtype F8_E4M3, expected an integer dtype"));
        }
    }

    private static byte[] rawOf(String name, byte[] b) {
        return switch (name) {
            case "bool" -> new byte[] {0, 1, 1, 0};
            case "u64" -> new byte[] {5, 0, 0, 0, 0, 0, 0, 0};
            default -> b;
        };
    }

    @Test
    void headerIsPaddedWithSpacesToAMultipleOf8() throws Exception {
        for (int nameLength = 1; nameLength <= 9; nameLength++) {
            byte[] bytes = new SafeTensorsWriter().addF32("x".repeat(nameLength), new float[] {1, 2}, 2).toByteArray();
            long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
            assertEquals(0, n % 8);
            String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
            assertTrue(header.startsWith("{") && header.stripTrailing().endsWith("}"), header);
            assertTrue(header.substring(header.lastIndexOf('}') + 1).isBlank());
            assertEquals(8 + n + 8, bytes.length);
            Path file = dir.resolve("p" + nameLength + ".safetensors");
            new SafeTensorsWriter().addF32("x".repeat(nameLength), new float[] {1, 2}, 2).write(file);
            assertArrayEquals(bytes, Files.readAllBytes(file));
        }
    }

    @Test
    void writeReplacesAnExistingFileAndLeavesNoTemporaries() throws Exception {
        Path file = dir.resolve("model.safetensors");
        new SafeTensorsWriter().addF32("a", new float[] {1}, 1).write(file);
        new SafeTensorsWriter().addF32("b", new float[] {2, 3}, 2).write(file);
        try (SafeTensors st = SafeTensors.open(file)) {
            assertEquals(List.of("b"), st.names());
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(file), files.toList());
        }
    }

    @Test
    void largeTensorsCrossConversionChunks() {
        int n = (1 << 20) / 2 * 3 + 17; // several 1 MiB chunks for every element size
        float[] f = new float[n];
        SplittableRandom rnd = new SplittableRandom(3);
        for (int i = 0; i < n; i++) f[i] = (float) rnd.nextGaussian();
        Path file = dir.resolve("big.safetensors");
        new SafeTensorsWriter().add("bf", DType.BF16, f, n).addF32("f", f, n).write(file);
        try (SafeTensors st = SafeTensors.open(file)) {
            assertArrayEquals(f, st.floats("f"));
            float[] bf = st.floats("bf");
            for (int i = 0; i < n; i += 9973) {
                assertSameFloat(HalfPrecision.bf16ToFloat(HalfPrecision.floatToBf16(f[i])), bf[i]);
            }
            float[] into = new float[n + 5];
            st.readFloatsInto("f", into, 5);
            assertEquals(f[n - 1], into[n + 4]);
            assertThrows(IndexOutOfBoundsException.class, () -> st.readFloatsInto("f", into, 6));
        }
    }

    /** A block of rows (int8 loading reads weights so) converts exactly as the same elements of the whole read. */
    @Test
    void slicesOfEveryFloatDtypeReadAsTheWhole() {
        float[] f = interestingFloats();
        Path file = dir.resolve("slices.safetensors");
        SafeTensorsWriter w = new SafeTensorsWriter();
        for (DType t : List.of(DType.F32, DType.BF16, DType.F16, DType.F64)) w.add(t.name(), t, f, f.length);
        w.write(file);
        try (SafeTensors st = SafeTensors.open(file)) {
            for (DType t : List.of(DType.F32, DType.BF16, DType.F16, DType.F64)) {
                float[] whole = st.floats(t.name());
                for (int[] slice : new int[][] {{0, 7}, {13, 101}, {f.length - 3, 3}, {5, 0}}) {
                    float[] into = new float[slice[1] + 2];
                    st.readFloatsInto(t.name(), slice[0], slice[1], into, 2);
                    for (int i = 0; i < slice[1]; i++) assertSameFloat(whole[slice[0] + i], into[2 + i]);
                }
                assertThrows(IndexOutOfBoundsException.class, () -> st.readFloatsInto(t.name(), f.length - 2, 3, new float[3], 0));
            }
        }
    }

    @Test
    void requireHelpersNameFileTensorAndShapes() {
        Path file = dir.resolve("model.safetensors");
        new SafeTensorsWriter().addF32("layers.0.attn.q.weight", new float[32 * 16], 32, 16).write(file);
        try (SafeTensors st = SafeTensors.open(file)) {
            assertEquals(32 * 16, st.requireFloats("layers.0.attn.q.weight", 32, 16).length);
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> st.require("layers.0.attn.q.weight", 32, 32));
            assertEquals(file + ": tensor layers.0.attn.q.weight has shape [32, 16], expected [32, 32]", e.getMessage());
            e = assertThrows(CheckpointException.class, () -> st.require("layers.0.attn.q.weight", DType.BF16, 32, 16));
            assertEquals(file + ": tensor layers.0.attn.q.weight has dtype F32, expected BF16", e.getMessage());
            e = assertThrows(CheckpointException.class, () -> st.floats("final_norm.scale"));
            assertEquals(file + ": missing tensor final_norm.scale", e.getMessage());
            e = assertThrows(CheckpointException.class, () -> st.ints("layers.0.attn.q.weight"));
            assertEquals(file + ": tensor layers.0.attn.q.weight has dtype F32, expected an integer dtype",
                    e.getMessage());
        }
    }

    @Test
    void writerRejectsProgrammingErrors() {
        SafeTensorsWriter w = new SafeTensorsWriter().addF32("a", new float[4], 2, 2);
        assertThrows(IllegalArgumentException.class, () -> w.addF32("a", new float[4], 4));
        assertThrows(IllegalArgumentException.class, () -> w.addF32("b", new float[4], 3));
        assertThrows(IllegalArgumentException.class, () -> w.add("c", DType.I32, new float[4], 4));
        assertThrows(IllegalArgumentException.class, () -> w.addF32("__metadata__", new float[1], 1));
        assertThrows(IllegalArgumentException.class,
                () -> w.add("d", DType.F32, MemorySegment.ofArray(new byte[3]), 1));
        assertFalse(w.names().contains("b"));
    }

    @Test
    void writeIntoAMissingFolderFailsWithAClearMessage() {
        Path file = dir.resolve("nope").resolve("model.safetensors");
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> new SafeTensorsWriter().addF32("a", new float[1], 1).write(file));
        assertEquals(file + ": cannot write the file (no such file or directory)", e.getMessage());
    }

    @Test
    void openingAMissingFileOrADirectoryFailsWithAClearMessage() {
        Path file = dir.resolve("missing.safetensors");
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensors.open(file));
        assertEquals(file + ": cannot read the file (no such file or directory)", e.getMessage());
        e = assertThrows(CheckpointException.class, () -> SafeTensors.open(dir));
        assertEquals(dir + ": is a directory, not a safetensors file", e.getMessage());
    }

    @Test
    void closedFileRefusesReadsWithoutCrashing() {
        Path file = dir.resolve("c.safetensors");
        new SafeTensorsWriter().addF32("a", new float[] {1, 2}, 2).write(file);
        SafeTensors st = SafeTensors.open(file);
        MemorySegment seg = st.segment("a");
        st.close();
        st.close(); // idempotent
        assertThrows(IllegalStateException.class, () -> seg.get(ValueLayout.JAVA_BYTE, 0));
    }

    private static void assertSameFloat(float expected, float actual) {
        if (Float.isNaN(expected)) {
            assertTrue(Float.isNaN(actual));
        } else {
            assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(actual),
                    () -> expected + " vs " + actual);
        }
    }
}
