package brt4j.train;

import brt4j.backend.Backend;
import brt4j.backend.cpu.CpuBackend;
import brt4j.data.TokenSource;
import brt4j.model.BrtModel;
import brt4j.model.ModelCheckpoint;
import brt4j.model.ModelConfig;
import brt4j.model.Parameters;
import brt4j.tensor.Tensor;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The data-parallel bookkeeping on the CPU: N replicas (threads, each with its own CPU backend, their gradients
 * summed by the test-only {@link InProcessCommunicator}) with local batch b train like one replica with batch N*b.
 */
class DataParallelTest {
    @TempDir Path tmp;

    static final TokenSource DATA = TrainFixtures.randomDocs(40, 3);

    /** Global batch, AdamW with clipping on (the clip uses the summed gradient's norm), 2 micro-batches. */
    static TrainOptions options(int globalBatch, long steps) {
        return new TrainOptions(globalBatch, 2, steps, "adamw", "cosine", 1e-2, 1e-3, 2, 0.01, 0.9, 0.98, 0.5, 1, 0, 2, 0, 9, 0.1);
    }

    record Run(List<double[]> losses, Map<String, float[]> params) {}

    /** Trains on {@code n} replicas (n = 0: the plain trainer, no communicator) into dir-rank<r>; rank 0's results. */
    static Run train(int n, ModelConfig c, TrainOptions o, Path dir, Path resumeFrom, long stopAt) {
        List<double[]> losses = new ArrayList<>();
        TrainListener rec = new TrainListener() {
            @Override public void step(Step s) { losses.add(new double[]{s.loss(), s.gradNorm()}); }
        };
        if (n == 0) {
            BrtModel m = model(c, o, resumeFrom, new CpuBackend(1));
            Trainer t = new Trainer(m, o, DATA, dir.resolve("rank0"), rec, null);
            if (resumeFrom != null) t.restore(resumeFrom);
            t.run();
            return new Run(losses, params(m));
        }
        InProcessCommunicator.Group group = new InProcessCommunicator.Group(n);
        Backend[] bes = new Backend[n];
        for (int r = 0; r < n; r++) bes[r] = new CpuBackend(1);
        List<Map<String, float[]>> out = DataParallel.run(n, r -> new InProcessCommunicator(group, r, bes[r]), (r, comm) -> {
            BrtModel m = model(c, o, resumeFrom, bes[r]);
            Trainer[] t = new Trainer[1];
            TrainListener l = new TrainListener() {
                @Override public void step(Step s) {
                    rec.step(s);
                    if (s.step() == stopAt) t[0].requestStop();   // rank 0 only hears it; all must stop together
                }
            };
            t[0] = new Trainer(m, o, DATA, dir.resolve("rank" + r), l, null, comm);
            if (resumeFrom != null) t[0].restore(resumeFrom);
            t[0].run();
            return params(m);
        });
        for (int r = 1; r < n; r++) {
            assertEquals(out.get(0).keySet(), out.get(r).keySet());
            for (String k : out.get(0).keySet()) assertArrayEquals(out.get(0).get(k), out.get(r).get(k), "replicas diverged: " + k);
        }
        return new Run(losses, out.get(0));
    }

    static BrtModel model(ModelConfig c, TrainOptions o, Path resumeFrom, Backend be) {
        return resumeFrom != null ? ModelCheckpoint.load(resumeFrom, be) : new BrtModel(Parameters.initialize(c, be, o.seed()));
    }

    static Map<String, float[]> params(BrtModel m) {
        Map<String, float[]> p = new java.util.TreeMap<>();
        m.parameters().all().forEach((k, v) -> p.put(k, m.backend().download(v.value)));
        return p;
    }

    /** Float32 rounding: the replicas sum partial gradients in another order than one replica's products do. */
    static void assertClose(Run expected, Run actual, double tol) {
        assertEquals(expected.losses().size(), actual.losses().size());
        for (int i = 0; i < expected.losses().size(); i++) {
            for (int j = 0; j < 2; j++) {
                double e = expected.losses().get(i)[j], a = actual.losses().get(i)[j];
                assertEquals(e, a, tol * Math.max(1, Math.abs(e)), "step " + (i + 1) + (j == 0 ? " loss" : " gradient norm"));
            }
        }
        double worst = 0;
        for (String k : expected.params().keySet()) {
            float[] e = expected.params().get(k), a = actual.params().get(k);
            for (int i = 0; i < e.length; i++) worst = Math.max(worst, Math.abs(e[i] - a[i]));
        }
        assertTrue(worst < 20 * tol, "parameters differ by up to " + worst);
    }

    @ParameterizedTest(name = "{0} replicas of batch {1}, dropout {2}")
    @CsvSource({"2, 2, 0", "3, 1, 0", "4, 2, 0", "2, 16, 0.1"})
    void replicasWithLocalBatchTrainLikeOneReplicaWithTheGlobalBatch(int n, int b, double dropout) {
        // Dropout masks repeat every 128 rows of [B*N, d]: a replica's rows see the one-replica run's masks when
        // b * segment is a multiple of 128 (b = 16, N = 8 here).
        ModelConfig c = TrainFixtures.config(dropout);
        TrainOptions o = options(n * b, 6);
        Run one = train(0, c, o, tmp.resolve("one"), null, -1);
        Run many = train(n, c, o, tmp.resolve("many"), null, -1);
        assertClose(one, many, 2e-5);
        assertTrue(one.losses().getFirst()[0] > 0);
    }

    @Test void aWorldOfOneThroughTheCommunicatorIsThePlainRunBitForBit() {
        ModelConfig c = TrainFixtures.config(0.1);
        TrainOptions o = options(3, 5);
        Run plain = train(0, c, o, tmp.resolve("plain"), null, -1);
        Run world1 = train(1, c, o, tmp.resolve("world1"), null, -1);
        for (int i = 0; i < plain.losses().size(); i++) assertArrayEquals(plain.losses().get(i), world1.losses().get(i), "step " + (i + 1));
        plain.params().forEach((k, v) -> assertArrayEquals(v, world1.params().get(k), k));
    }

    @Test void onlyRankZeroWritesMetricsAndCheckpointsAndTheyHoldTheGlobalBatch() throws Exception {
        ModelConfig c = TrainFixtures.config(0);
        train(3, c, options(6, 4), tmp.resolve("r"), null, -1);
        Path r0 = tmp.resolve("r/rank0"), r1 = tmp.resolve("r/rank1"), r2 = tmp.resolve("r/rank2");
        assertTrue(Files.isDirectory(r0.resolve(Trainer.CHECKPOINT)));
        List<JsonNode> lines = MetricsLog.read(r0.resolve(Trainer.METRICS));
        assertEquals(4, lines.stream().filter(l -> l.path("split").asText().equals("train")).count(), "one line per step, not one per replica");
        for (Path other : List.of(r1, r2)) {
            assertFalse(Files.exists(other.resolve(Trainer.CHECKPOINT)), other + " has a checkpoint");
            assertFalse(Files.exists(other.resolve(Trainer.METRICS)), other + " has metrics");
        }
        assertEquals(6, Trainer.options(r0.resolve(Trainer.CHECKPOINT)).batch(), "the checkpoint keeps the global batch");
        JsonNode last = lines.stream().filter(l -> l.path("split").asText().equals("train")).toList().getLast();
        assertEquals(4L * 6 * 2 * c.segment(), last.path("tokens").asLong(), "tokens count the global batch");
    }

    @ParameterizedTest(name = "{0} replicas, then {1}")
    @CsvSource({"1, 2", "2, 4", "4, 1"})
    void aRunResumesOnAnotherNumberOfReplicas(int before, int after) {
        ModelConfig c = TrainFixtures.config(0);
        TrainOptions o = options(4, 6);
        Run whole = train(0, c, o, tmp.resolve("whole"), null, -1);
        Path dir = tmp.resolve("split");
        Run first = train(before, c, o, dir, null, 3);
        assertEquals(3, first.losses().size(), "every replica stopped after the step rank 0 was asked to");
        Path ckpt = dir.resolve("rank0").resolve(Trainer.CHECKPOINT);
        Run second = train(after, c, Trainer.options(ckpt), tmp.resolve("resumed"), ckpt, -1);
        List<double[]> joined = new ArrayList<>(first.losses());
        joined.addAll(second.losses());
        assertClose(whole, new Run(joined, second.params()), 2e-5);
    }

    @Test void aGlobalBatchThatDoesNotSplitEvenlyIsRefused() {
        InProcessCommunicator.Group group = new InProcessCommunicator.Group(2);
        Backend be = new CpuBackend(1);
        var m = new BrtModel(Parameters.initialize(TrainFixtures.config(0), be, 1));
        var e = assertThrows(IllegalArgumentException.class, () -> new Trainer(m, options(5, 2), DATA, tmp, null, null,
                new InProcessCommunicator(group, 0, be)));
        assertEquals("a global batch of 5 streams does not split evenly over 2 replicas (the global batch is the per-GPU "
                + "batch times the number of GPUs)", e.getMessage());
    }

    @Test void aFailingRankStopsTheOthersWithOneErrorNamingIt() {
        ModelConfig c = TrainFixtures.config(0);
        TrainOptions o = options(6, 50);
        InProcessCommunicator.Group group = new InProcessCommunicator.Group(3);
        Backend[] bes = {new CpuBackend(1), new CpuBackend(1), new CpuBackend(1)};
        DataParallel.RankFailed e = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> assertThrows(DataParallel.RankFailed.class,
                () -> DataParallel.run(3, r -> {
                    Communicator real = new InProcessCommunicator(group, r, bes[r]);
                    return r != 1 ? real : new FailingAfter(real, 7);
                }, (r, comm) -> {
                    return new Trainer(new BrtModel(Parameters.initialize(c, bes[r], o.seed())), o, DATA, tmp.resolve("f" + r), null, null, comm).run();
                })));
        assertEquals(1, e.rank());
        assertTrue(e.getMessage().startsWith("rank 1 of 3 failed: rank 1: the device fell off the bus"), e.getMessage());
        assertTrue(e.getMessage().endsWith("; the other ranks were stopped"), e.getMessage());
    }

    /**
     * A rank whose communicator cannot be made while the others wait in their set-up for every rank to join (as
     * ncclCommInitRank does, with no timeout): the run still ends, with the failing rank named and the ranks left
     * joining listed, after the grace period; nothing hangs.
     */
    @Test void aRankFailingToJoinDoesNotLeaveTheRunWaitingForIt() throws Exception {
        java.util.concurrent.CountDownLatch everyoneJoined = new java.util.concurrent.CountDownLatch(3);
        try {
            DataParallel.RankFailed e = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> assertThrows(
                    DataParallel.RankFailed.class, () -> DataParallel.run(3, r -> {
                        if (r == 2) throw new IllegalStateException("rank 2: no such GPU");
                        everyoneJoined.countDown();
                        try {
                            everyoneJoined.await();            // never: rank 2 does not come
                        } catch (InterruptedException ie) {
                            throw new IllegalStateException(ie);
                        }
                        return Communicator.SOLO;
                    }, (r, comm) -> r, 200)));
            assertEquals(2, e.rank());
            assertTrue(e.getMessage().startsWith("rank 2 of 3 failed: rank 2: no such GPU"), e.getMessage());
            String left = java.util.Arrays.stream(e.getSuppressed()).map(Throwable::getMessage).filter(m -> m.contains("left behind"))
                    .findFirst().orElseThrow(() -> new AssertionError("no note of the ranks left joining"));
            assertTrue(left.startsWith("ranks [0, 1] were still joining"), left);
        } finally {
            everyoneJoined.countDown();                    // let the abandoned threads finish
        }
    }

    /** Fails on the k-th sum of host values, like a GPU that dies mid-run. */
    record FailingAfter(Communicator inner, int k, int[] calls) implements Communicator {
        FailingAfter(Communicator inner, int k) { this(inner, k, new int[1]); }
        @Override public int rank() { return inner.rank(); }
        @Override public int size() { return inner.size(); }
        @Override public void allReduceSum(List<Tensor> tensors) { inner.allReduceSum(tensors); }
        @Override public void broadcast(List<Tensor> tensors, int root) { inner.broadcast(tensors, root); }
        @Override public double[] allReduceSum(double[] values) {
            if (++calls[0] == k) throw new IllegalStateException("rank " + rank() + ": the device fell off the bus");
            return inner.allReduceSum(values);
        }
        @Override public void abort() { inner.abort(); }
        @Override public void close() { inner.close(); }
    }
}
