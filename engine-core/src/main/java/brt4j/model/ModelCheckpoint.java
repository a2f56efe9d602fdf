package brt4j.model;

import brt4j.backend.Backend;
import brt4j.checkpoint.CheckpointDirectory;
import brt4j.checkpoint.DType;
import brt4j.checkpoint.SafeTensors;
import brt4j.checkpoint.SafeTensorsWriter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A model checkpoint directory (design.md): {@code config.json} and {@code model.safetensors}, parameters by the
 * names and shapes of {@link ParamSpec}, float32 (bf16 and f16 read too). Written through
 * {@link CheckpointDirectory}, so a crash never leaves half of one.
 */
public final class ModelCheckpoint {
    public static final String CONFIG = "config.json";
    public static final String WEIGHTS = "model.safetensors";

    private ModelCheckpoint() {}

    /** Loads a checkpoint directory onto a backend; any disagreement is refused with a sentence naming it. */
    public static BrtModel load(Path dir, Backend backend) { return load(dir, backend, false); }

    /**
     * As {@link #load(Path, Backend)}; with int8, the weights are quantized as they are read, a block of rows at a
     * time, so the float32 model never exists on the heap (see {@link WeightLoader}).
     */
    public static BrtModel load(Path dir, Backend backend, boolean int8) { return load(dir, backend, int8, new LoadStats()); }

    /** As {@link #load(Path, Backend, boolean)}, recording what was staged in float32 (for the tests). */
    static BrtModel load(Path dir, Backend backend, boolean int8, LoadStats stats) {
        Path found = CheckpointDirectory.locate(dir);
        Path configFile = found.resolve(CONFIG), weights = found.resolve(WEIGHTS);
        if (!Files.isRegularFile(configFile)) throw new IllegalArgumentException(found + ": missing " + CONFIG);
        if (!Files.isRegularFile(weights)) throw new IllegalArgumentException(found + ": missing " + WEIGHTS);
        ModelConfig config;
        try {
            config = ModelConfig.load(configFile);
        } catch (IOException e) {
            throw new UncheckedIOException(configFile + ": cannot read (" + e.getMessage() + ")", e);
        }
        try (SafeTensors st = SafeTensors.open(weights)) {
            return new BrtModel(WeightLoader.load(config, backend, st, int8, stats));
        }
    }

    /** Writes config.json and model.safetensors (float32) atomically to {@code dir}. */
    public static void save(Path dir, BrtModel model) {
        try (CheckpointDirectory cd = CheckpointDirectory.begin(dir)) {
            writeInto(cd.dir(), model);
            cd.commit();
        }
    }

    /** Writes the model's two files into an open (temporary) checkpoint directory. */
    public static void writeInto(Path dir, BrtModel model) {
        try {
            model.config().save(dir.resolve(CONFIG));
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot write " + CONFIG, e);
        }
        Backend be = model.backend();
        SafeTensorsWriter w = new SafeTensorsWriter();
        w.metadata("format", "pt").metadata("brt4j", "0.1.0");
        model.parameters().all().forEach((name, v) -> {
            int[] s = v.value.shape();
            long[] shape = new long[s.length];
            for (int i = 0; i < s.length; i++) shape[i] = s[i];
            w.add(name, DType.F32, be.download(v.value), shape);
        });
        w.write(dir.resolve(WEIGHTS));
    }
}
