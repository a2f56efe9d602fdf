package brt4j.checkpoint;

import static brt4j.checkpoint.RawSafeTensors.file;
import static brt4j.checkpoint.RawSafeTensors.oneTensor;
import static brt4j.checkpoint.RawSafeTensors.withLength;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every kind of broken file is refused with one sentence that names the file and the tensor or field. */
class SafeTensorsCorruptionTest {
    @TempDir
    Path dir;

    private static String f32(String shape, String offsets) {
        return "{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
    }

    /** Writes {@code bytes} to model.safetensors, opens it and checks the message: file, then {@code expected}. */
    private void assertRejected(byte[] bytes, String expected) throws Exception {
        Path file = dir.resolve("model.safetensors");
        Files.write(file, bytes);
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensors.open(file).close());
        String message = e.getMessage();
        assertTrue(message.startsWith(file + ": "), message);
        assertTrue(message.contains(expected), () -> "expected \"" + expected + "\" in: " + message);
        assertFalse(message.contains("\n"), message);
        assertTrue(message.length() < 400, message);
    }

    @Test
    void fileShorterThanTheLengthField() throws Exception {
        assertRejected(new byte[5], "file is 5 bytes long, shorter than the 8-byte header length");
        assertRejected(new byte[0], "file is 0 bytes long");
    }

    @Test
    void headerLengthBeyondTheFileOrAbsurd() throws Exception {
        assertRejected(withLength(1000, "{}", 4), "header length 1000 is larger than the 6 bytes that follow it");
        assertRejected(withLength(200_000_000L, "{}", 0), "header length 200000000 exceeds the 100 MB limit");
        assertRejected(withLength(-1L, "{}", 0), "header length 18446744073709551615 exceeds the 100 MB limit");
        assertRejected(withLength(1, "{}", 0), "header length 1 is too short for a JSON object");
    }

    @Test
    void headerThatIsNotAJsonObject() throws Exception {
        assertRejected(file("{\"a\": ", 0), "header is not valid JSON");
        assertRejected(file("[1, 2]", 0), "header is not a JSON object");
        assertRejected(file("null", 0), "header is not a JSON object");
        assertRejected(file("  ", 0), "header is not a JSON object");
        assertRejected(file("{} {}", 0), "header is not valid JSON");
        assertRejected(file("{}\u0000\u0000", 0), "header is not valid JSON");
        assertRejected(file("{\"a\":1,\"a\":2}", 0), "header is not valid JSON (Duplicate field 'a'");
        byte[] badUtf8 = file("{\"\u00ff\":{}}", 0);
        badUtf8[10] = (byte) 0xC3; // 0xC3 0xC3: a lead byte followed by another lead byte
        badUtf8[11] = (byte) 0xC3;
        assertRejected(badUtf8, "header is not valid JSON");
    }

    @Test
    void deepNestingHitsTheParserLimitNotTheStack() throws Exception {
        String bomb = "{\"a\":" + "[".repeat(100_000) + "]".repeat(100_000) + "}";
        assertRejected(file(bomb, 0), "header exceeds the JSON parser's limits");
    }

    @Test
    void tensorEntryMissingOrMistypedFields() throws Exception {
        assertRejected(file(oneTensor("w", "5"), 0), "tensor w: header entry is not a JSON object");
        assertRejected(file(oneTensor("w", "{\"shape\":[1],\"data_offsets\":[0,4]}"), 4), "tensor w has no dtype");
        assertRejected(file(oneTensor("w", "{\"dtype\":\"F32\",\"data_offsets\":[0,4]}"), 4), "tensor w has no shape");
        assertRejected(file(oneTensor("w", "{\"dtype\":\"F32\",\"shape\":[1]}"), 4), "tensor w has no data_offsets");
        assertRejected(file(oneTensor("w", "{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}"), 4),
                "tensor w: dtype is not a string");
        assertRejected(file(oneTensor("w", f32("\"1\"", "[0,4]")), 4), "tensor w: shape is not a JSON array");
        assertRejected(file(oneTensor("w", f32("[1]", "{}")), 4), "tensor w: data_offsets is not a JSON array");
        assertRejected(file(oneTensor("w", f32("[1]", "[0]")), 4), "tensor w: data_offsets has 1 entries, expected 2");
        assertRejected(file(oneTensor("w", f32("[1]", "[0,\"4\"]")), 4),
                "tensor w: data_offsets[1] is \"4\", expected a non-negative integer");
    }

    @Test
    void unknownDtype() throws Exception {
        assertRejected(file(oneTensor("w", "{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[0,1]}"), 1),
                "tensor w has unknown dtype \"F4\" (supported: BOOL, U8");
        assertRejected(file(oneTensor("w", "{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}"), 4),
                "tensor w has unknown dtype \"f32\"");
    }

    @Test
    void badShapeDims() throws Exception {
        assertRejected(file(oneTensor("w", f32("[2,-3]", "[0,4]")), 4),
                "tensor w: shape[1] is -3, expected a non-negative integer");
        assertRejected(file(oneTensor("w", f32("[1.5]", "[0,4]")), 4),
                "tensor w: shape[0] is 1.5, expected a non-negative integer");
        assertRejected(file(oneTensor("w", f32("[1e2]", "[0,4]")), 4), "tensor w: shape[0] is 100.0");
        assertRejected(file(oneTensor("w", f32("[100000000000000000000000000000]", "[0,4]")), 4),
                "tensor w: shape[0] is 100000000000000000000000000000, expected a non-negative integer");
        assertRejected(file(oneTensor("w", f32("[null]", "[0,4]")), 4), "tensor w: shape[0] is null");
    }

    @Test
    void shapeProductOverflow() throws Exception {
        assertRejected(file(oneTensor("w", f32("[4294967296,4294967296,4]", "[0,4]")), 4),
                "tensor w: shape has more elements than a 64-bit count can hold");
        assertRejected(file(oneTensor("w", f32("[4611686018427387904]", "[0,4]")), 4),
                "tensor w: shape has more bytes than a 64-bit count can hold");
    }

    @Test
    void dataOffsetsOutOfOrderOrBeyondTheData() throws Exception {
        assertRejected(file(oneTensor("w", f32("[1]", "[8,4]")), 8),
                "tensor w: data_offsets [8, 4] begin after they end");
        assertRejected(file(oneTensor("w", f32("[100]", "[0,400]")), 16),
                "tensor w ends at data byte 400 but the data section has only 16 bytes (truncated file?)");
        assertRejected(file(oneTensor("w", f32("[1]", "[-4,0]")), 4), "tensor w: data_offsets[0] is -4");
    }

    @Test
    void byteLengthDisagreesWithShape() throws Exception {
        assertRejected(file(oneTensor("w", f32("[3]", "[0,8]")), 8),
                "tensor w: data_offsets [0, 8] span 8 bytes but F32 [3] needs 12");
        assertRejected(file(oneTensor("w", "{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,16]}"), 16),
                "tensor w: data_offsets [0, 16] span 16 bytes but BF16 [2, 2] needs 8");
    }

    @Test
    void overlappingGappedOrTrailingData() throws Exception {
        assertRejected(file("{\"a\":" + f32("[2]", "[0,8]") + ",\"b\":" + f32("[2]", "[4,12]") + "}", 12),
                "tensors a and b overlap (data bytes [0, 8) and [4, 12))");
        assertRejected(file("{\"a\":" + f32("[2]", "[0,8]") + ",\"b\":" + f32("[2]", "[0,8]") + "}", 8),
                "tensors a and b overlap");
        assertRejected(file("{\"a\":" + f32("[1]", "[0,4]") + ",\"b\":" + f32("[1]", "[8,12]") + "}", 12),
                "data section has 4 unused bytes before tensor b (safetensors data must be contiguous)");
        assertRejected(file(oneTensor("b", f32("[1]", "[4,8]")), 8), "data section starts with 4 unused bytes before tensor b");
        assertRejected(file(oneTensor("a", f32("[2]", "[0,8]")), 16),
                "file has 8 bytes after the end of the last tensor");
        assertRejected(file("{}", 3), "file has 3 bytes after the end of the last tensor");
    }

    @Test
    void truncatedValidFile() throws Exception {
        byte[] valid = new SafeTensorsWriter().addF32("a", new float[4], 4).addF32("b", new float[8], 2, 4)
                .toByteArray();
        assertRejected(Arrays.copyOf(valid, valid.length - 1), "tensor b ends at data byte 48 but the data section has"
                + " only 47 bytes (truncated file?)");
        assertRejected(Arrays.copyOf(valid, 20), "is larger than the 12 bytes that follow it");
    }

    @Test
    void metadataThatIsNotStringToString() throws Exception {
        assertRejected(file("{\"__metadata__\":[1]}", 0), "__metadata__ is not a JSON object");
        assertRejected(file("{\"__metadata__\":{\"step\":5}}", 0), "__metadata__ entry \"step\" is not a string");
    }

    @Test
    void edgeCasesThatAreValid() throws Exception {
        Path file = dir.resolve("ok.safetensors");
        Files.write(file, file("{}", 0));
        try (SafeTensors st = SafeTensors.open(file)) {
            assertEquals(0, st.size());
        }
        // Header order need not be offset order, zero-size tensors may sit anywhere, metadata may be null.
        String header = "{\"__metadata__\":null,\"b\":" + f32("[1]", "[4,8]") + ",\"z\":" + f32("[0,5]", "[4,4]")
                + ",\"a\":" + f32("[1]", "[0,4]") + "}";
        Files.write(file, file(header, 8));
        try (SafeTensors st = SafeTensors.open(file)) {
            assertEquals(java.util.List.of("b", "z", "a"), st.names());
            assertEquals(0, st.floats("z").length);
        }
        Files.write(file, file("{\"ünï\": " + f32("[]", "[0,4]") + "}", 4));
        try (SafeTensors st = SafeTensors.open(file)) {
            assertEquals("ünï", st.names().get(0));
            assertEquals(new String("ünï".getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8), st.names().get(0));
        }
    }
}
