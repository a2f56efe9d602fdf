package brt4j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Reads the golden fixtures of shared/fixtures/brt (written by an independent Python tool) and checks the layout
 * their README documents. Skipped where shared/ is not available.
 */
class GoldenFixturesTest {
    private static final int V = 97;
    private static final int B = 2;

    @ParameterizedTest
    @ValueSource(strings = {"rec_fixed_skip", "feedback_fixed_skip", "slide", "xl"})
    void fixtureFilesParseWithTheDocumentedLayout(String fixture) {
        Path dir = SharedFixtures.brtFixtures().resolve(fixture);
        int n = fixture.equals("xl") ? 128 : 32;
        int w = fixture.equals("xl") ? 128 : 8;
        int layers = fixture.equals("slide") || fixture.equals("xl") ? 2 : 3;
        boolean recurrent = fixture.contains("fixed");

        try (SafeTensors model = SafeTensors.open(dir.resolve("model.safetensors"))) {
            assertEquals(expectedModelTensors(fixture), model.size());
            float[] embed = model.requireFloats("embed.weight", V, 32);
            assertTrue(embed[0] != 0 || embed[1] != 0);
            model.require("final_norm.scale", DType.F32, 32);
            for (int i = 0; i < layers; i++) {
                model.require("layers." + i + ".attn.q.weight", DType.F32, 32, 32);
                model.require("layers." + i + ".attn.rel_bias", DType.F32, 2, 32);
                model.require("layers." + i + ".ffn.w1.weight", DType.F32, 64, 32);
            }
            if (recurrent) {
                model.require("layers.1.state.init", DType.F32, 6, 32);
                model.require("layers.1.state.gate.bias", DType.F32, 32);
            }
            for (TensorInfo t : model.infos()) {
                assertEquals(DType.F32, t.dtype(), t.name());
                assertEquals(t.elementCount(), model.floats(t.name()).length);
            }
            assertEquals(fixture, model.metadata().get("fixture"));
        }

        try (SafeTensors inputs = SafeTensors.open(dir.resolve("inputs.safetensors"))) {
            assertEquals(List.of("seg0.start", "seg0.tokens", "seg1.start", "seg1.tokens"), inputs.names());
            int[] tokens = inputs.requireInts("seg0.tokens", B, n);
            for (int t : tokens) assertTrue(t >= 0 && t < V);
            assertArrayEquals(new int[] {1, 1}, inputs.requireInts("seg0.start", B));
            assertArrayEquals(new int[] {0, 1}, inputs.requireInts("seg1.start", B));
            // Row 1 of seg0 ends with three padding tokens (README).
            assertArrayEquals(new int[] {0, 0, 0}, java.util.Arrays.copyOfRange(tokens, 2 * n - 3, 2 * n));
        }

        try (SafeTensors expected = SafeTensors.open(dir.resolve("expected.safetensors"))) {
            int perSegment = 4 + layers + 2 * layers + (recurrent ? 2 : 0); // logits, loss, sum, count; hidden; xl k/v; states
            assertEquals(2 * perSegment, expected.size());
            for (int s = 0; s < 2; s++) {
                expected.require("seg" + s + ".logits", DType.F32, B, n, V);
                expected.require("seg" + s + ".loss", DType.F32);
                expected.require("seg" + s + ".xl_cache.layers.0.k", DType.F32, B, w, 2, 16);
                TensorInfo count = expected.require("seg" + s + ".token_count", DType.I32);
                assertEquals(0, count.rank());
                int tokensCounted = expected.ints("seg" + s + ".token_count")[0];
                assertEquals(s == 0 ? (n - 1) + (n - 1 - 3) : 2 * (n - 1), tokensCounted);
                float loss = expected.floats("seg" + s + ".loss")[0];
                float sum = expected.floats("seg" + s + ".loss_sum")[0];
                assertEquals(sum / tokensCounted, loss, 1e-4 * loss);
                if (recurrent) {
                    expected.require("seg" + s + ".states.layers.1", DType.F32, B, n / w + 1, 6, 32);
                    expected.require("seg" + s + ".final_state.layers.1", DType.F32, B, 6, 32);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"rec_fixed_skip", "xl"})
    void fixtureCopiedThroughTheWriterIsByteIdenticalInContent(String fixture) throws Exception {
        Path dir = SharedFixtures.brtFixtures().resolve(fixture);
        try (SafeTensors model = SafeTensors.open(dir.resolve("model.safetensors"))) {
            SafeTensorsWriter w = new SafeTensorsWriter();
            model.metadata().forEach(w::metadata);
            for (TensorInfo t : model.infos()) {
                w.add(t.name(), t.dtype(), model.segment(t.name()), t.shape());
            }
            byte[] copy = w.toByteArray();
            try (SafeTensors again = SafeTensors.of("copy", java.lang.foreign.MemorySegment.ofArray(copy))) {
                assertEquals(model.names(), again.names());
                assertEquals(model.metadata(), again.metadata());
                for (String name : model.names()) {
                    assertArrayEquals(model.floats(name), again.floats(name), name);
                }
            }
        }
    }

    private static int expectedModelTensors(String fixture) {
        // Per layer: attn_norm, q, k, v, o, temperature, rel_bias, ffn_norm, w1, w2 = 10; plus embed and final_norm.
        int base = fixture.equals("slide") || fixture.equals("xl") ? 2 * 10 + 2 : 3 * 10 + 2;
        return switch (fixture) {
            // The recurrent layer adds q_cross and temperature_cross (2) and its state side: norm, ids, init, q,
            // q_cross, k, v, temperature, temperature_cross, o, gate.bias (11).
            case "rec_fixed_skip" -> base + 13;
            // Feedback: the two non-recurrent layers also get q_cross and temperature_cross.
            case "feedback_fixed_skip" -> base + 13 + 4;
            default -> base;
        };
    }
}
