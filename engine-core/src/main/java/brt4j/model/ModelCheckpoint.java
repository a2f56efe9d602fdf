package brt4j.model;

import brt4j.backend.Backend;
import brt4j.checkpoint.CheckpointDirectory;
import brt4j.checkpoint.DType;
import brt4j.checkpoint.SafeTensors;
import brt4j.checkpoint.SafeTensorsWriter;
import brt4j.checkpoint.TensorInfo;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

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

    /** As {@link #load(Path, Backend)}; with int8, the weights are quantized for inference as they load. */
    public static BrtModel load(Path dir, Backend backend, boolean int8) {
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
            Map<String, float[]> arrays = new HashMap<>();
            Map<String, int[]> shapes = new HashMap<>();
            for (TensorInfo t : st.infos()) {
                if (!t.dtype().isFloatingPoint()) {
                    throw new IllegalArgumentException(weights + ": tensor " + t.name() + " has dtype " + t.dtype()
                            + "; parameters must be F32, BF16 or F16");
                }
                long[] s = t.shape();
                int[] shape = new int[s.length];
                for (int i = 0; i < s.length; i++) shape[i] = Math.toIntExact(s[i]);
                shapes.put(t.name(), shape);
                arrays.put(t.name(), st.floats(t.name()));
            }
            Parameters params = Parameters.fromArrays(config, backend, arrays, shapes, weights.toString());
            arrays.clear();
            if (int8) params.quantizeInt8();
            return new BrtModel(params);
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
