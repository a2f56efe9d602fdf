package brt4j.train;

import brt4j.backend.Backend;
import brt4j.data.InMemoryTokens;
import brt4j.data.TokenSource;
import brt4j.model.BrtModel;
import brt4j.model.ModelCheckpoint;
import brt4j.model.ModelConfig;
import brt4j.model.Parameters;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class TrainerTest {
    @TempDir Path tmp;

    static List<String> trainLosses(Path run) {
        List<String> l = new ArrayList<>();
        for (JsonNode n : MetricsLog.read(run.resolve(Trainer.METRICS))) {
            if (n.path("split").asText().equals("train")) l.add(n.path("step").asLong() + ":" + n.path("loss").asText());
            else l.add(n.path("step").asLong() + ":val:" + n.path("bits_per_token").asText());
        }
        return l;
    }

    @ParameterizedTest
    @ValueSource(strings = {"adamw", "adafactor"})
    void resumeGivesTheSameLossesAsAnUninterruptedRun(String optimizer) throws Exception {
        Backend be = TrainFixtures.backend();
        TokenSource data = TrainFixtures.randomDocs(14, 1);
        ModelConfig c = TrainFixtures.config(0.1);
        TrainOptions o = TrainFixtures.options(optimizer, 8, 0);

        // No warm-up on purpose: the first run starts in the interpreter and the resumed one runs compiled code, and
        // the CPU backend gives the same bits in both (Vec.exp, Vec.sum, StrictMath; see CpuBackend).
        Path a = tmp.resolve("a");
        BrtModel ma = new BrtModel(Parameters.initialize(c, be, o.seed()));
        new Trainer(ma, o, data, a, null, null).run();

        Path b = tmp.resolve("b");
        BrtModel mb = new BrtModel(Parameters.initialize(c, be, o.seed()));
        Trainer[] first = new Trainer[1];
        first[0] = new Trainer(mb, o, data, b, new TrainListener() {
            @Override public void step(Step s) { if (s.step() == 5) first[0].requestStop(); }
        }, null);
        Trainer.Result r = first[0].run();
        assertTrue(r.interrupted());
        assertEquals(5, r.step());

        BrtModel mc = ModelCheckpoint.load(b.resolve(Trainer.CHECKPOINT), be);
        Trainer resumed = new Trainer(mc, Trainer.options(b.resolve(Trainer.CHECKPOINT)), data, b, null, null);
        resumed.restore(b.resolve(Trainer.CHECKPOINT));
        assertEquals(5, resumed.step());
        resumed.run();

        assertEquals(trainLosses(a), trainLosses(b));
        assertEquals(10, trainLosses(a).size(), "8 train lines and validations at steps 4 and 8");
        ma.parameters().all().forEach((name, v) -> assertArrayEquals(be.download(v.value),
                be.download(mc.parameters().get(name).value), name));
    }

    @Test void aTinyModelOverfitsATinyCorpus() {
        Backend be = TrainFixtures.backend();
        List<int[]> docs = new ArrayList<>();
        for (int d = 0; d < 4; d++) {
            int[] t = new int[40];
            for (int i = 0; i < t.length; i++) t[i] = 1 + (i * (d + 1) + d) % 7;   // a cycle per document
            docs.add(t);
        }
        ModelConfig c = TrainFixtures.config(0);
        TrainOptions o = new TrainOptions(4, 1, 120, "adamw", "cosine", 2e-2, 2e-3, 10, 0, 0.9, 0.98, 1.0, 10, 0, 0, 0, 3, 0);
        BrtModel m = new BrtModel(Parameters.initialize(c, be, 3));
        double[] last = new double[1];
        new Trainer(m, o, new InMemoryTokens(docs), tmp.resolve("fit"), new TrainListener() {
            @Override public void step(Step s) { last[0] = s.bitsPerToken(); }
        }, null).run();
        // Uniform over 19 ids is 4.25 bits; the data is deterministic given the previous tokens of the document.
        assertTrue(last[0] < 0.6, "final training loss " + last[0] + " bits/token");
    }

    @Test void aNanLossStopsTheRunNamingTheStepAndKeepsTheLastGoodCheckpoint() throws Exception {
        Backend be = TrainFixtures.backend();
        TokenSource data = TrainFixtures.randomDocs(10, 2);
        TrainOptions o = TrainFixtures.options("adamw", 10, 2);
        BrtModel m = new BrtModel(Parameters.initialize(TrainFixtures.config(0), be, 1));
        Path run = tmp.resolve("nan");
        Trainer t = new Trainer(m, o, data, run, new TrainListener() {
            @Override public void step(Step s) {
                if (s.step() == 5) be.fill(m.parameters().get("final_norm.scale").value, Double.NaN);
            }
        }, null);
        TrainingDiverged e = assertThrows(TrainingDiverged.class, t::run);
        assertEquals(6, e.step);
        assertTrue(e.getMessage().startsWith("step 6: the loss is NaN") && e.getMessage().contains("checkpoint (step 4)"), e.getMessage());
        BrtModel good = ModelCheckpoint.load(run.resolve(Trainer.CHECKPOINT), be);
        float[] scale = be.download(good.parameters().get("final_norm.scale").value);
        assertTrue(Float.isFinite(scale[0]), "the checkpoint of step 4, before the NaN, is kept");
        assertEquals(4, new ObjectMapperHolder().step(run.resolve(Trainer.CHECKPOINT)));
    }

    @Test void optionsAndConfigErrorsAreOneSentence() {
        assertEquals("optimizer must be adamw or adafactor, got sgd", assertThrows(IllegalArgumentException.class,
                () -> new TrainOptions(1, 1, 1, "sgd", "rsqrt", 1, 0, 0, 0, 0.9, 0.98, 0, 1, 0, 0, 0, 0, 0)).getMessage());
        var e = assertThrows(IllegalArgumentException.class, () -> new ModelConfig(20, 16, 2, 2, 8, 32, 4, 10, 4, new int[0],
                ModelConfig.Gate.FIXED, ModelConfig.StateFfn.SKIP, false, true, ModelConfig.LogitScale.NONE, 32, 128, 1e-6, 0, 0));
        assertEquals("config: segment (10) must be a multiple of window (4)", e.getMessage());
        Backend be = TrainFixtures.backend();
        BrtModel m = new BrtModel(Parameters.initialize(TrainFixtures.config(0), be, 1));
        var empty = new InMemoryTokens(List.of(new int[0]));
        assertThrows(IllegalArgumentException.class, () -> new Trainer(m, TrainFixtures.options("adamw", 1, 0), empty, tmp, null, null));
        // one-token documents have no target: training on them would report a loss of 0 and change nothing
        var singles = new InMemoryTokens(List.of(new int[]{5}, new int[]{7}, new int[]{9}));
        String why = assertThrows(IllegalArgumentException.class,
                () -> new Trainer(m, TrainFixtures.options("adamw", 1, 0), singles, tmp, null, null)).getMessage();
        assertTrue(why.startsWith("nothing to learn: every training document ("), why);
        var mixed = new InMemoryTokens(List.of(new int[]{5}, new int[]{7, 8, 9}, new int[]{9}));
        assertEquals(1, brt4j.data.Split.predictable(mixed, new int[]{0, 1, 2}));
    }

    static final class ObjectMapperHolder {
        long step(Path ckpt) throws Exception {
            return new com.fasterxml.jackson.databind.ObjectMapper().readTree(ckpt.resolve("trainer.json").toFile()).path("step").asLong();
        }
    }

    @Test void metricsLogDropsLinesAfterTheResumedStep() throws Exception {
        Path f = tmp.resolve("m.jsonl");
        Files.writeString(f, "{\"step\":1}\n{\"step\":2}\n{\"step\":3}\n{\"ste");
        try (MetricsLog l = new MetricsLog(f, 2)) {
            l.write(l.line().put("step", 3).put("x", 1));
        }
        assertEquals(List.of("{\"step\":1}", "{\"step\":2}", "{\"step\":3,\"x\":1}"), Files.readAllLines(f));
        assertNotNull(Arrays.asList(1));
    }
}
