package brt4j.tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Runs the reference SentencePiece command-line tools ({@code spm_train}, {@code spm_encode}, {@code spm_decode}). */
final class SpmTools {
    private SpmTools() {
    }

    static boolean installed() {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
            if (Files.isExecutable(Path.of(dir, "spm_encode")) && Files.isExecutable(Path.of(dir, "spm_train"))) return true;
        }
        return false;
    }

    static void assumeInstalled() {
        assumeTrue(installed(), "SentencePiece's spm_train/spm_encode are not installed (apt-get install sentencepiece; "
                + ".ci/run does it), so the comparison with the reference is skipped.");
    }

    /** Trains a model with spm_train and returns the {@code .model} path. */
    static Path train(Path dir, Path input, String name, String... options) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("spm_train", "--input=" + input, "--model_prefix=" + dir.resolve(name),
                "--num_threads=2", "--minloglevel=2"));
        cmd.addAll(List.of(options));
        run(cmd, null, dir.resolve(name + ".log"));
        return dir.resolve(name + ".model");
    }

    /** Runs a tool with {@code input} as stdin and returns stdout. */
    static byte[] run(List<String> cmd, Path input, Path output) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(false);
        if (input != null) pb.redirectInput(input.toFile());
        pb.redirectOutput(output.toFile());
        Path err = Files.createTempFile("spm", ".err");
        pb.redirectError(err.toFile());
        try {
            Process p = pb.start();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(cmd + " timed out");
            }
            if (p.exitValue() != 0) throw new IOException(cmd + " failed: " + Files.readString(err));
            return Files.readAllBytes(output);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        } finally {
            Files.deleteIfExists(err);
        }
    }

    static byte[] encode(Path model, Path input, String format, Path dir) throws IOException {
        return run(List.of("spm_encode", "--model=" + model, "--output_format=" + format), input,
                dir.resolve("spm." + format));
    }

    static byte[] decodeIds(Path model, Path ids, Path dir) throws IOException {
        return run(List.of("spm_decode", "--model=" + model, "--input_format=id"), ids, dir.resolve("spm.decoded"));
    }
}
