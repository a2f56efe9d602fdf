package brt4j.gpu;

import brt4j.backend.Backend;
import brt4j.checkpoint.CheckpointDirectory;
import brt4j.data.InMemoryTokens;
import brt4j.data.TokenSource;
import brt4j.gpu.cuda.CudaBackend;
import brt4j.gpu.cuda.NcclCommunicator;
import brt4j.model.BrtModel;
import brt4j.model.ModelConfig;
import brt4j.model.Parameters;
import brt4j.train.Communicator;
import brt4j.train.DataParallel;
import brt4j.train.TrainListener;
import brt4j.train.TrainOptions;
import brt4j.train.Trainer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.stream.Stream;

/**
 * The two multi-GPU checks in one command, through the real Trainer and NCCL on synthetic documents:
 * <ol>
 *   <li>the loss curve of N GPUs with local batch b against one GPU with batch N*b (the same global batch), step by
 *       step (float32 rounding apart, they must agree: use fp32 for this);</li>
 *   <li>scaling: tokens/s of N GPUs with local batch b against N times one GPU with batch b (efficiency), median
 *       step time after two warm-up steps.</li>
 * </ol>
 * Usage: DataParallelBench DEVICE PRECISION STEPS LOCAL_BATCH MODEL GPUS... where MODEL is Rec:fixed:skip,
 * Slide:13L or XL:2048 at the paper's medium_150M shapes ({@link GpuBench#config}) or a config JSON file; DEVICE cuda
 * (one replica per GPU, cuda:0..N-1, NCCL) or cpu (N = 1 only, no communicator: a smoke test of this harness).
 */
public final class DataParallelBench {
    private DataParallelBench() {}

    record Run(List<Double> losses, List<Double> stepMillis) {
        double medianMillis() {
            List<Double> t = new ArrayList<>(stepMillis.subList(Math.min(2, stepMillis.size() - 1), stepMillis.size()));
            t.sort(Double::compare);
            return t.get(t.size() / 2);
        }
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 6) {
            System.err.println("usage: DataParallelBench DEVICE PRECISION STEPS LOCAL_BATCH MODEL GPUS...   e.g. cuda fp32 8 1 Rec:fixed:skip 1 2 4 8");
            System.exit(2);
        }
        String device = args[0], precision = args[1];
        int steps = Integer.parseInt(args[2]), b = Integer.parseInt(args[3]);
        ModelConfig c = Files.isRegularFile(Path.of(args[4])) ? ModelConfig.load(Path.of(args[4])) : GpuBench.config(args[4]);
        List<Integer> gpus = Stream.of(args).skip(5).map(Integer::parseInt).toList();
        TokenSource data = documents(c, 256);
        System.out.printf(Locale.ROOT, "model %s, segment %d, local batch %d, %d steps, %s %s%n", args[4], c.segment(), b, steps, device, precision);

        Run base = train(device, precision, 1, b, c, steps, data);
        System.out.println("| GPUs | global batch | step ms (median) | tokens/s | tokens/s per GPU | efficiency |");
        System.out.println("| --- | --- | --- | --- | --- | --- |");
        double tps1 = (double) b * c.segment() / (base.medianMillis() / 1000);
        List<String> matches = new ArrayList<>();
        for (int n : gpus) {
            Run r = n == 1 ? base : train(device, precision, n, b, c, steps, data);
            double tps = (double) n * b * c.segment() / (r.medianMillis() / 1000);
            System.out.printf(Locale.ROOT, "| %d | %d | %.1f | %.0f | %.0f | %.3f |%n", n, n * b, r.medianMillis(), tps, tps / n, tps / (n * tps1));
            if (n > 1) {
                Run one = train(device, precision, 1, n * b, c, steps, data);   // one GPU, the same global batch
                double worst = 0;
                for (int s = 0; s < steps; s++) worst = Math.max(worst, Math.abs(one.losses().get(s) - r.losses().get(s)) / Math.abs(one.losses().get(s)));
                matches.add(String.format(Locale.ROOT, "%d GPUs x batch %d vs 1 GPU x batch %d: max relative loss difference over %d steps %.2e%n  1 GPU:  %s%n  %d GPUs: %s",
                        n, b, n * b, steps, worst, one.losses(), n, r.losses()));
            }
        }
        for (String m : matches) System.out.println(m);
    }

    /** Documents of random ids, 1.5 to 3 segments long, so streams cross document boundaries. */
    static TokenSource documents(ModelConfig c, int count) {
        Random r = new Random(11);
        List<int[]> docs = new ArrayList<>();
        for (int d = 0; d < count; d++) {
            int[] t = new int[c.segment() * 3 / 2 + r.nextInt(c.segment() * 3 / 2)];
            for (int i = 0; i < t.length; i++) t[i] = 1 + r.nextInt(c.vocabSize() - 1);
            docs.add(t);
        }
        return new InMemoryTokens(docs);
    }

    /** One run of {@code n} replicas with local batch {@code b}: rank 0's losses and step times. */
    static Run train(String device, String precision, int n, int b, ModelConfig c, int steps, TokenSource data) throws IOException {
        TrainOptions o = new TrainOptions(n * b, 1, steps, "adamw", "constant", 1e-4, 1e-5, 0, 0.01, 0.9, 0.98, 1.0,
                1, 0, 0, 0, 5, 0.0);
        Path dir = Files.createTempDirectory("dp-bench");
        List<Double> losses = new ArrayList<>(), times = new ArrayList<>();
        long[] last = {System.nanoTime()};
        TrainListener rec = new TrainListener() {
            @Override public void started(long step, long total) { last[0] = System.nanoTime(); }
            @Override public void step(Step s) {
                long now = System.nanoTime();
                times.add((now - last[0]) / 1e6);
                last[0] = now;
                losses.add(s.loss());
            }
        };
        try {
            if (!device.startsWith("cuda")) {
                if (n != 1) throw new IllegalArgumentException("several replicas need --device cuda (NCCL)");
                try (Backend be = Devices.open(device, precision, System.err)) {
                    new Trainer(new BrtModel(Parameters.initialize(c, be, o.seed())), o, data, dir, rec, null, Communicator.SOLO).run();
                }
            } else {
                CudaBackend[] bes = new CudaBackend[n];
                for (int r = 0; r < n; r++) bes[r] = new CudaBackend(r, Devices.precision(precision));
                byte[] id = NcclCommunicator.uniqueId();
                try {
                    DataParallel.run(n, r -> NcclCommunicator.connect(bes[r], id, r, n), (r, comm) ->
                            new Trainer(new BrtModel(Parameters.initialize(c, bes[r], o.seed())), o, data, dir, r == 0 ? rec : null, null, comm).run());
                } finally {
                    for (CudaBackend be : bes) be.close();
                }
            }
        } finally {
            try {
                CheckpointDirectory.deleteTree(dir);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return new Run(losses, times);
    }
}
