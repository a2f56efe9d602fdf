package brt4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code metrics.jsonl}: one JSON object per line, {@code "split": "train"} for a logged step (loss in nats, bits per
 * token, learning rate, gradient norm, tokens, tokens/s) and {@code "split": "val"} for a validation. On resume, lines
 * after the checkpoint's step are dropped, so the log reads as one uninterrupted run.
 */
public final class MetricsLog implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path file;
    private final BufferedWriter out;

    public MetricsLog(Path file, long keepUpToStep) {
        this.file = file;
        try {
            if (Files.exists(file)) {
                List<String> kept = new ArrayList<>();
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                    if (line.isBlank()) continue;
                    try {
                        if (JSON.readTree(line).path("step").asLong() <= keepUpToStep) kept.add(line);
                    } catch (IOException torn) {
                        // a line torn by a crash: drop it
                    }
                }
                Files.write(file, kept, StandardCharsets.UTF_8);
            }
            out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot open the metrics log (" + e.getMessage() + ")", e);
        }
    }

    public ObjectNode line() { return JSON.createObjectNode(); }

    public void write(ObjectNode line) {
        try {
            out.write(line.toString());
            out.write('\n');
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot write the metrics log (" + e.getMessage() + ")", e);
        }
    }

    /** Every line of a metrics file (for plots). */
    public static List<JsonNode> read(Path file) {
        List<JsonNode> lines = new ArrayList<>();
        try {
            for (String l : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (!l.isBlank()) lines.add(JSON.readTree(l));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read the metrics log (" + e.getMessage() + ")", e);
        }
        return lines;
    }

    @Override public void close() {
        try {
            out.close();
        } catch (IOException ignored) {
        }
    }
}
