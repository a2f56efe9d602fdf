package brt4j.checkpoint;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parses and validates the header of a safetensors file held in a memory segment. After {@link #parse} returns,
 * every tensor has a known dtype, a shape whose byte size matches its data_offsets, and bytes inside the data
 * section; the tensors tile the data section exactly (contiguous, non-overlapping, no gaps, nothing after the last),
 * as the reference implementation requires. Anything else is a {@link CheckpointException} with one sentence naming
 * the file and the tensor or field.
 *
 * <p>Nothing is allocated from a size the file claims before that size has been checked against the real file size,
 * and the JSON parser is bounded (nesting depth, number and string lengths), so a hostile file costs at most memory
 * proportional to its own size.
 */
final class SafeTensorsHeader {
    /** The reference implementation's limit on the header length. */
    static final long MAX_HEADER_BYTES = 100_000_000L;

    static final String METADATA_KEY = "__metadata__";

    private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(16) // A valid header nests 3 deep: {name: {shape: [..]}}.
                    .maxNumberLength(64)
                    .maxStringLength(1 << 20)
                    .maxNameLength(1 << 16)
                    .maxDocumentLength(MAX_HEADER_BYTES)
                    .build())
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private static final ValueLayout.OfLong HEADER_LENGTH =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    record Parsed(List<TensorInfo> tensors, Map<String, String> metadata, long dataStart, long dataSize) {}

    private final String file;

    private SafeTensorsHeader(String file) {
        this.file = file;
    }

    /** Parses the whole file's header; {@code file} names the file in error messages. */
    static Parsed parse(String file, MemorySegment bytes) {
        return new SafeTensorsHeader(file).parse(bytes);
    }

    private Parsed parse(MemorySegment bytes) {
        long fileSize = bytes.byteSize();
        if (fileSize < 8) {
            throw fail("file is " + fileSize + " bytes long, shorter than the 8-byte header length of a safetensors file");
        }
        long headerLength = bytes.get(HEADER_LENGTH, 0);
        if (headerLength < 0 || headerLength > MAX_HEADER_BYTES) {
            throw fail("header length " + Long.toUnsignedString(headerLength) + " exceeds the 100 MB limit"
                    + " (not a safetensors file?)");
        }
        if (headerLength > fileSize - 8) {
            throw fail("header length " + headerLength + " is larger than the " + (fileSize - 8)
                    + " bytes that follow it (truncated file, or not a safetensors file)");
        }
        if (headerLength < 2) {
            throw fail("header length " + headerLength + " is too short for a JSON object");
        }
        byte[] headerBytes = bytes.asSlice(8, headerLength).toArray(ValueLayout.JAVA_BYTE);
        JsonNode root = readJson(headerBytes);
        long dataStart = 8 + headerLength;
        long dataSize = fileSize - dataStart;

        List<TensorInfo> tensors = new ArrayList<>();
        Map<String, String> metadata = Map.of();
        for (Map.Entry<String, JsonNode> field : root.properties()) {
            if (field.getKey().equals(METADATA_KEY)) {
                metadata = metadata(field.getValue());
            } else {
                tensors.add(tensor(field.getKey(), field.getValue(), dataSize));
            }
        }
        checkTiling(tensors, dataSize);
        return new Parsed(Collections.unmodifiableList(tensors), metadata, dataStart, dataSize);
    }

    private JsonNode readJson(byte[] headerBytes) {
        JsonNode root;
        try {
            root = JSON.readTree(headerBytes);
        } catch (StreamConstraintsException e) {
            throw fail("header exceeds the JSON parser's limits (" + firstLine(e.getOriginalMessage()) + ")", e);
        } catch (JsonProcessingException e) {
            long at = e.getLocation() == null ? -1 : e.getLocation().getByteOffset();
            throw fail("header is not valid JSON (" + firstLine(e.getOriginalMessage())
                    + (at >= 0 ? " at header byte " + at : "") + ")", e);
        } catch (IOException e) {
            throw fail("header cannot be parsed (" + firstLine(e.getMessage()) + ")", e);
        }
        if (root == null || root.isMissingNode() || !root.isObject()) {
            throw fail("header is not a JSON object");
        }
        return root;
    }

    private Map<String, String> metadata(JsonNode node) {
        if (node.isNull()) {
            return Map.of();
        }
        if (!node.isObject()) {
            throw fail(METADATA_KEY + " is not a JSON object");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!e.getValue().isTextual()) {
                throw fail(METADATA_KEY + " entry \"" + e.getKey() + "\" is not a string");
            }
            out.put(e.getKey(), e.getValue().textValue());
        }
        return Collections.unmodifiableMap(out);
    }

    private TensorInfo tensor(String name, JsonNode entry, long dataSize) {
        if (!entry.isObject()) {
            throw fail("tensor " + name + ": header entry is not a JSON object");
        }
        JsonNode dtypeNode = entry.get("dtype");
        if (dtypeNode == null) {
            throw fail("tensor " + name + " has no dtype");
        }
        if (!dtypeNode.isTextual()) {
            throw fail("tensor " + name + ": dtype is not a string");
        }
        DType dtype = DType.fromHeader(dtypeNode.textValue()).orElseThrow(() -> fail("tensor " + name
                + " has unknown dtype \"" + shorten(dtypeNode.textValue()) + "\" (supported: " + DType.supportedList() + ")"));

        long[] shape = nonNegativeLongs(name, entry, "shape", -1);
        long elements = 1;
        for (long dim : shape) {
            try {
                elements = Math.multiplyExact(elements, dim);
            } catch (ArithmeticException e) {
                throw fail("tensor " + name + ": shape has more elements than a 64-bit count can hold");
            }
        }
        long[] offsets = nonNegativeLongs(name, entry, "data_offsets", 2);
        long begin = offsets[0];
        long end = offsets[1];
        if (begin > end) {
            throw fail("tensor " + name + ": data_offsets [" + begin + ", " + end + "] begin after they end");
        }
        if (end > dataSize) {
            throw fail("tensor " + name + " ends at data byte " + end + " but the data section has only " + dataSize
                    + " bytes (truncated file?)");
        }
        long needed;
        try {
            needed = Math.multiplyExact(elements, dtype.byteSize());
        } catch (ArithmeticException e) {
            throw fail("tensor " + name + ": shape has more bytes than a 64-bit count can hold");
        }
        if (end - begin != needed) {
            throw fail("tensor " + name + ": data_offsets [" + begin + ", " + end + "] span " + (end - begin)
                    + " bytes but " + dtype + " " + java.util.Arrays.toString(shape) + " needs " + needed);
        }
        return new TensorInfo(name, dtype, shape, elements, begin, end);
    }

    /** A JSON array of non-negative integers that fit in a long; {@code length} -1 means any length. */
    private long[] nonNegativeLongs(String name, JsonNode entry, String field, int length) {
        JsonNode node = entry.get(field);
        if (node == null) {
            throw fail("tensor " + name + " has no " + field);
        }
        if (!node.isArray()) {
            throw fail("tensor " + name + ": " + field + " is not a JSON array");
        }
        if (length >= 0 && node.size() != length) {
            throw fail("tensor " + name + ": " + field + " has " + node.size() + " entries, expected " + length);
        }
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
                throw fail("tensor " + name + ": " + field + "[" + i + "] is " + shorten(v.toString())
                        + ", expected a non-negative integer");
            }
            out[i] = v.longValue();
        }
        return out;
    }

    /** The tensors must cover [0, dataSize) exactly once, in some order of their offsets. */
    private void checkTiling(List<TensorInfo> tensors, long dataSize) {
        List<TensorInfo> byOffset = new ArrayList<>(tensors);
        byOffset.sort(Comparator.comparingLong(TensorInfo::dataBegin).thenComparingLong(TensorInfo::dataEnd));
        long expected = 0;
        TensorInfo previous = null;
        for (TensorInfo t : byOffset) {
            if (t.dataBegin() < expected) {
                throw fail("tensors " + previous.name() + " and " + t.name() + " overlap (data bytes ["
                        + previous.dataBegin() + ", " + previous.dataEnd() + ") and [" + t.dataBegin() + ", "
                        + t.dataEnd() + "))");
            }
            if (t.dataBegin() > expected) {
                throw fail((previous == null ? "data section starts with " : "data section has ")
                        + (t.dataBegin() - expected) + " unused bytes before tensor " + t.name()
                        + " (safetensors data must be contiguous)");
            }
            expected = t.dataEnd();
            previous = t;
        }
        if (expected != dataSize) {
            throw fail("file has " + (dataSize - expected) + " bytes after the end of the last tensor"
                    + " (safetensors data must end with the last tensor)");
        }
    }

    private CheckpointException fail(String what) {
        return new CheckpointException(file + ": " + what);
    }

    private CheckpointException fail(String what, Throwable cause) {
        return new CheckpointException(file + ": " + what, cause);
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "no detail";
        }
        int nl = s.indexOf('\n');
        return shorten(nl < 0 ? s : s.substring(0, nl));
    }

    /** Keeps hostile strings from turning an error message into a wall of text. */
    private static String shorten(String s) {
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }
}
