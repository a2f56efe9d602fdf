package brt4j.model;

import brt4j.backend.Backend;
import brt4j.backend.ref.ReferenceBackend;
import brt4j.checkpoint.DType;
import brt4j.checkpoint.SafeTensors;
import brt4j.checkpoint.SafeTensorsWriter;
import brt4j.checkpoint.TensorInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Save, load, identical logits; and every way a checkpoint can be wrong is refused with a sentence naming it. */
class ModelCheckpointTest {
    @TempDir Path tmp;

    final Backend be = new ReferenceBackend();
    final ModelConfig config = Tiny.config("Rec:lstm:dual", 2, 4);

    @Test
    void roundTripGivesIdenticalLogits() {
        BrtModel m = Tiny.model(config, be, 1);
        Path dir = tmp.resolve("ckpt");
        ModelCheckpoint.save(dir, m);
        BrtModel loaded = ModelCheckpoint.load(dir, be);
        Batch batch = new Batch(Tiny.tokens(2, 4, 3), Tiny.flags(true, true));
        // Saved as float32: compare with the float32-rounded original.
        for (var e : m.parameters().all().entrySet()) {
            be.copy(be.upload(be.download(e.getValue().value), e.getValue().value.shape()), e.getValue().value);
        }
        assertArrayEquals(Tiny.logits(m, Tiny.run(m, batch, Memory.empty(config, be, 2), false)),
                Tiny.logits(loaded, Tiny.run(loaded, batch, Memory.empty(config, be, 2), false)));
        ModelCheckpoint.save(dir, loaded);   // overwriting an existing checkpoint works too
        ModelCheckpoint.load(dir, be);
    }

    private Path saved() {
        Path dir = tmp.resolve("ckpt");
        ModelCheckpoint.save(dir, Tiny.model(config, be, 2));
        return dir;
    }

    /** Rewrites model.safetensors through an edit of its tensors. */
    private void rewrite(Path dir, Consumer<SafeTensorsWriter> edit, String skip, String reshape) throws IOException {
        Path f = dir.resolve(ModelCheckpoint.WEIGHTS);
        SafeTensorsWriter w = new SafeTensorsWriter();
        try (SafeTensors st = SafeTensors.open(f)) {
            for (TensorInfo t : st.infos()) {
                if (t.name().equals(skip)) continue;
                long[] shape = t.name().equals(reshape) ? new long[]{t.elementCount()} : t.shape();
                w.add(t.name(), DType.F32, st.floats(t.name()), shape);
            }
        }
        edit.accept(w);
        Files.delete(f);
        w.write(f);
    }

    private String refusal(Path dir) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelCheckpoint.load(dir, be));
        assertTrue(!e.getMessage().contains("\n"), "one sentence: " + e.getMessage());
        return e.getMessage();
    }

    @Test
    void missingTensorIsNamed() throws IOException {
        Path dir = saved();
        rewrite(dir, w -> {}, "layers.1.state.gate2.forget.weight", null);
        assertTrue(refusal(dir).contains("missing tensor layers.1.state.gate2.forget.weight"));
    }

    @Test
    void wrongShapeIsNamed() throws IOException {
        Path dir = saved();
        rewrite(dir, w -> {}, null, "layers.0.attn.q.weight");
        String msg = refusal(dir);
        assertTrue(msg.contains("layers.0.attn.q.weight") && msg.contains("[64]") && msg.contains("[8, 8]"), msg);
    }

    @Test
    void extraTensorMeansTheConfigDisagrees() throws IOException {
        Path dir = saved();
        rewrite(dir, w -> w.add("layers.0.state.ids", DType.F32, new float[24], 3, 8), null, null);
        assertTrue(refusal(dir).contains("layers.0.state.ids"));
    }

    @Test
    void configContradictingTheTensorsIsRefused() throws IOException {
        Path dir = saved();
        String json = Files.readString(dir.resolve(ModelCheckpoint.CONFIG)).replace("\"d_ff\" : 12", "\"d_ff\" : 16");
        Files.writeString(dir.resolve(ModelCheckpoint.CONFIG), json);
        assertTrue(refusal(dir).contains("ffn.w1.weight"));
        Files.writeString(dir.resolve(ModelCheckpoint.CONFIG), json.replace("\"d_ff\" : 16", "\"d_fff\" : 16"));
        assertTrue(refusal(dir).contains("unknown field 'd_fff'"));
    }

    @Test
    void truncatedAndLyingFilesAreRefused() throws IOException {
        Path dir = saved();
        Path f = dir.resolve(ModelCheckpoint.WEIGHTS);
        byte[] bytes = Files.readAllBytes(f);
        Files.write(f, java.util.Arrays.copyOf(bytes, bytes.length - 100));
        assertTrue(refusal(dir).contains(ModelCheckpoint.WEIGHTS));
        // A header whose offsets point past the data.
        String text = new String(bytes, java.nio.charset.StandardCharsets.ISO_8859_1);
        int at = text.indexOf("\"data_offsets\":[0,");
        assertTrue(at > 0, "header layout");
        byte[] lying = bytes.clone();
        lying[at + "\"data_offsets\":[0,".length()] = '9';
        Files.write(f, lying);
        assertTrue(refusal(dir).contains(ModelCheckpoint.WEIGHTS));
    }

    @Test
    void missingFilesAreNamed() throws IOException {
        Path dir = saved();
        Files.delete(dir.resolve(ModelCheckpoint.CONFIG));
        assertTrue(refusal(dir).contains("missing config.json"));
        assertTrue(refusal(tmp.resolve("nowhere")).contains("no such checkpoint directory"));
    }
}
