package brt4j.bench.train;

import brt4j.backend.cpu.CpuBackend;
import brt4j.checkpoint.CheckpointDirectory;
import brt4j.data.InMemoryTokens;
import brt4j.model.BrtModel;
import brt4j.model.ModelConfig;
import brt4j.model.Parameters;
import brt4j.train.TrainListener;
import brt4j.train.TrainOptions;
import brt4j.train.Trainer;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Training throughput of the real trainer (forward, backward, clip, AdamW; segments streamed from documents, memory
 * carried) on a config, in tokens/s: the timed steps' tokens over their total time after warm-up, so garbage
 * collection pauses count (a median step would hide them; the median is printed beside). train-bench.sh runs it
 * beside the PyTorch transcription (train_bench_torch.py, the same statistic) in the same run.
 *
 * <p>Usage: {@code TrainThroughput CONFIG THREADS STEPS WARMUP BATCH [dropout]}. With {@code -Dlockstep=true} it
 * takes each step when told (train-pair.py): it prints {@code ready}, then before every step reads a line from
 * stdin and after it prints {@code step SECONDS}; the wait is not timed.
 */
public final class TrainThroughput {
    public static void main(String[] args) throws Exception {
        // dropout off by default, as in the PyTorch peer; a sixth argument "dropout" keeps the config's rates
        boolean dropout = args.length > 5 && args[5].equals("dropout");
        int threads = Integer.parseInt(args[1]), steps = Integer.parseInt(args[2]), warmup = Integer.parseInt(args[3]);
        int batch = Integer.parseInt(args[4]);
        boolean lockstep = Boolean.getBoolean("lockstep");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        List<Double> times = new ArrayList<>();
        long[] last = {System.nanoTime()};
        long[] allocated = new long[2];     // all threads' allocated bytes when the timed steps start and end
        Trainer trainer = trainer(Path.of(args[0]), threads, batch, warmup + steps, dropout, new TrainListener() {
            @Override public void step(Step s) {
                long now = System.nanoTime();
                if (s.step() > warmup) times.add((now - last[0]) / 1e9);
                if (s.step() == warmup) allocated[0] = allocatedBytes();
                if (s.step() == warmup + steps) allocated[1] = allocatedBytes();
                if (lockstep) {
                    System.out.printf("step %.6f%n", (now - last[0]) / 1e9);
                    System.out.flush();
                    if (s.step() < warmup + steps) awaitTurn(in);
                }
                last[0] = System.nanoTime();
            }
        });
        if (lockstep) {
            System.out.println("ready");
            System.out.flush();
            awaitTurn(in);
            last[0] = System.nanoTime();
        }
        trainer.run();
        BrtModel m = trainer.model();
        ModelConfig c = m.config();
        double mean = times.stream().mapToDouble(Double::doubleValue).sum() / times.size();
        Collections.sort(times);
        double med = times.get(times.size() / 2);
        System.out.printf("{\"peer\": \"brt4j cpu\", \"threads\": %d, \"tokens_per_s\": %.1f, \"step_s_mean\": %.4f, \"step_s_median\": %.4f, \"steps\": %d, \"params\": %d, \"alloc_mb_per_step\": %.2f}%n",
                threads, batch * c.segment() / mean, mean, med, steps, m.parameters().count(), (allocated[1] - allocated[0]) / 1e6 / steps);
    }

    /** Blocks until the coordinator's next line; its end (the coordinator gone) ends the run. */
    private static void awaitTurn(BufferedReader in) {
        try {
            if (in.readLine() == null) System.exit(3);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Bytes allocated so far by all threads. A steady-state step should allocate next to nothing (the CPU backend
     * reuses arrays); megabytes a step mean boxed vectors, which C2 makes when a kernel's helper is not inlined
     * (cpu-backend.md, session 8).
     */
    private static long allocatedBytes() {
        return ((com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean()).getTotalThreadAllocatedBytes();
    }

    /**
     * The benchmark's trainer (also {@link Stepper}'s): the config, with dropout off unless asked; 64 documents of 8
     * segments of random ids; AdamW at a constant 1e-3 with clip 1, for the given number of steps; the CPU backend on
     * the given threads.
     */
    static Trainer trainer(Path config, int threads, int batch, long steps, boolean dropout, TrainListener listener) throws IOException {
        ModelConfig loaded = ModelConfig.load(config);
        ModelConfig c = dropout ? loaded : loaded.withDropout(0, 0);
        Random r = new Random(0);
        List<int[]> docs = new ArrayList<>();
        for (int d = 0; d < 64; d++) {
            int[] t = new int[c.segment() * 8];
            for (int i = 0; i < t.length; i++) t[i] = 1 + r.nextInt(c.vocabSize() - 1);
            docs.add(t);
        }
        BrtModel m = new BrtModel(Parameters.initialize(c, new CpuBackend(threads), 1));
        TrainOptions o = new TrainOptions(batch, 1, steps, "adamw", "constant", 1e-3, 1e-3, 0, 0.01, 0.9, 0.98, 1.0,
                1000, 0, 0, 0, 1, 0.0);
        return new Trainer(m, o, new InMemoryTokens(docs), scratchRunDirectory(), listener, null);
    }

    /**
     * A temporary run directory, deleted when the JVM exits: the trainer writes its final checkpoint (87 MB for the
     * laptop config) there, and every benchmark run used to leave one behind in /tmp.
     */
    private static Path scratchRunDirectory() throws IOException {
        Path dir = Files.createTempDirectory("train-bench");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                CheckpointDirectory.deleteTree(dir);
            } catch (IOException e) {
                System.err.println("could not delete " + dir + ": " + e.getMessage());
            }
        }));
        return dir;
    }
}
