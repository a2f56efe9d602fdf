package brt4j.checkpoint;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Feeds arbitrary bytes to the reader: whatever the bytes, opening and reading every tensor either works or throws
 * CheckpointException; any other exception (or an OutOfMemoryError from a size the file lies about) fails the test.
 *
 * <p>In a plain {@code mvn verify} Jazzer replays the seed corpus in
 * {@code src/test/resources/brt4j/checkpoint/SafeTensorsFuzzTestInputs/<method>/} (a valid file, a truncated one,
 * lying offsets, ...). To fuzz for real: {@code JAZZER_FUZZ=1 mvn -pl engine-core test -Dtest=SafeTensorsFuzzTest}
 * (findings land in that same folder as new regression inputs).
 */
class SafeTensorsFuzzTest {
    private static final Path DIR = createDir();

    private static Path createDir() {
        try {
            Path d = Files.createTempDirectory("brt4j-fuzz");
            d.toFile().deleteOnExit();
            return d;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @FuzzTest(maxDuration = "90s")
    void readerFromFile(byte[] bytes) throws Exception {
        Path file = DIR.resolve("fuzz.safetensors");
        Files.write(file, bytes);
        SafeTensors st;
        try {
            st = SafeTensors.open(file);
        } catch (CheckpointException expected) {
            return; // The only acceptable failure.
        } finally {
            Files.deleteIfExists(file); // Unlinking a mapped file is fine on Linux; the mapping stays valid.
        }
        try (st) {
            readEverything(st);
        }
    }

    @FuzzTest(maxDuration = "90s")
    void readerFromMemory(byte[] bytes) {
        SafeTensors st;
        try {
            st = SafeTensors.of("fuzz", MemorySegment.ofArray(bytes));
        } catch (CheckpointException expected) {
            return; // The only acceptable failure.
        }
        readEverything(st);
    }

    /** Reads every tensor of a file that opened; then only out-of-range integers may be refused. */
    static void readEverything(SafeTensors st) {
        st.metadata().forEach((k, v) -> { });
        for (String name : st.names()) {
            TensorInfo t = st.info(name);
            MemorySegment s = st.segment(name);
            if (s.byteSize() != t.byteSize()) throw new AssertionError(name);
            try {
                if (t.dtype().isFloatingPoint()) {
                    st.floats(name);
                    st.doubles(name);
                } else if (t.dtype().isInteger()) {
                    st.longs(name);
                    st.ints(name); // may refuse values outside the int range, with a CheckpointException
                }
            } catch (CheckpointException e) {
                if (!e.getMessage().contains("outside the")) {
                    throw new AssertionError("a file that opened failed later: " + e.getMessage(), e);
                }
            }
        }
    }
}
