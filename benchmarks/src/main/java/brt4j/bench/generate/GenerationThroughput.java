package brt4j.bench.generate;

import brt4j.backend.cpu.CpuBackend;
import brt4j.generate.Generator;
import brt4j.generate.Sampling;
import brt4j.model.BrtModel;
import brt4j.model.ModelConfig;
import brt4j.model.ParamSpec;
import brt4j.model.Parameters;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Generation speed (issue 6): prompt ingestion (a block at a time, all its tokens in parallel) and token-by-token
 * generation, float32 and int8 weights, and the distance to the memory-bandwidth bound: a generated token reads
 * every weight once and the key/value window of every layer, so tokens/s can not exceed bandwidth / those bytes.
 * Bandwidth is measured here, in the same run, with a STREAM-style triad over arrays far larger than the caches.
 *
 * <p>Usage: {@code GenerationThroughput config=FILE|PRESET [prompt=2048] [generate=256] [reps=3] [warmup=5] [threads=N]}
 * (warmup: untimed runs first; C2 reaches the kernels' steady state only after a few prompts: with one warm-up
 * run the laptop prompt read 5256 tokens/s on two threads, after forty runs 7043)
 */
public final class GenerationThroughput {
    public static void main(String[] args) throws Exception {
        Map<String, String> a = new LinkedHashMap<>();
        for (String s : args) { String[] kv = s.split("=", 2); a.put(kv[0], kv.length > 1 ? kv[1] : ""); }
        String cfg = a.getOrDefault("config", "configs/laptop.json");
        ModelConfig c = cfg.endsWith(".json") ? ModelConfig.load(Path.of(cfg)) : ModelConfig.preset(cfg);
        c = c.withDropout(0, 0);
        int prompt = Integer.parseInt(a.getOrDefault("prompt", "2048"));
        int generate = Integer.parseInt(a.getOrDefault("generate", "256"));
        int reps = Integer.parseInt(a.getOrDefault("reps", "3"));
        int warmup = Integer.parseInt(a.getOrDefault("warmup", "5"));
        int threads = Integer.parseInt(a.getOrDefault("threads", String.valueOf(Runtime.getRuntime().availableProcessors())));

        CpuBackend be = new CpuBackend(threads);
        double bandwidth = triadBandwidth(threads);
        long weightParams = 0;
        for (ParamSpec p : ParamSpec.all(c)) if (p.name().endsWith(".weight")) weightParams += p.size();
        // Besides the weights a token reads the W keys and values of every layer and the state's S keys and values
        // in each layer that reads a state (float32 whatever the weights): with W = 512 a tenth of float32's bytes.
        int stateReaders = 0;
        for (int i = 0; i < c.nLayers(); i++) if (c.isRecurrent(i) || c.feedback()) stateReaders++;
        double windowBytes = 4.0 * 2 * c.hd() * ((double) c.nLayers() * c.window() + (double) stateReaders * c.nStates());
        System.out.printf(Locale.ROOT, "%s: V=%d d=%d L=%d H=%dx%d F=%d W=%d S=%d recurrent=%s; %d threads; triad bandwidth %.1f GB/s%n",
                cfg, c.vocabSize(), c.dModel(), c.nLayers(), c.nHeads(), c.headDim(), c.dFf(), c.window(), c.nStates(),
                java.util.Arrays.toString(c.recurrentLayers()), threads, bandwidth / 1e9);
        Random r = new Random(1);
        int[] promptIds = new int[prompt];
        for (int i = 0; i < prompt; i++) promptIds[i] = 1 + r.nextInt(c.vocabSize() - 1);

        System.out.println("| weights | prompt tokens/s | generated tokens/s | bytes read/token (weights + window) | bandwidth bound tokens/s | % of bound |");
        System.out.println("|---|---|---|---|---|---|");
        for (boolean int8 : new boolean[]{false, true}) {
            Parameters params = Parameters.initialize(c, be, 1);
            if (int8) params.quantizeInt8();
            BrtModel m = new BrtModel(params);
            List<Double> ingest = new ArrayList<>(), gen = new ArrayList<>();
            for (int rep = -warmup; rep < reps; rep++) {   // negative reps warm the JIT up
                try (Generator g = new Generator(m, Sampling.greedy())) {
                    long t0 = System.nanoTime();
                    g.feed(promptIds);
                    long t1 = System.nanoTime();
                    for (int i = 0; i < generate; i++) g.next();
                    long t2 = System.nanoTime();
                    if (rep >= 0) {
                        ingest.add(prompt / ((t1 - t0) / 1e9));
                        gen.add(generate / ((t2 - t1) / 1e9));
                    }
                }
            }
            double bytes = weightParams * (int8 ? 1.0 : 4.0) + windowBytes;
            double bound = bandwidth / bytes, genMed = median(gen);
            System.out.printf(Locale.ROOT, "| %s | %.0f | %.1f | %.1f MB | %.1f | %.0f%% |%n", int8 ? "int8" : "float32",
                    median(ingest), genMed, bytes / 1e6, bound, 100 * genMed / bound);
        }
        be.close();
    }

    /** STREAM triad x = y + s z over three 64 MiB float arrays: 12 bytes moved per element (two loads, one store). */
    static double triadBandwidth(int threads) throws InterruptedException {
        int n = 16 << 20;
        float[] x = new float[n], y = new float[n], z = new float[n];
        java.util.Arrays.fill(y, 1);
        java.util.Arrays.fill(z, 2);
        double best = 0;
        for (int rep = 0; rep < 6; rep++) {
            Thread[] ts = new Thread[threads];
            long t0 = System.nanoTime();
            for (int t = 0; t < threads; t++) {
                int from = (int) ((long) n * t / threads), to = (int) ((long) n * (t + 1) / threads);
                ts[t] = new Thread(() -> { for (int i = from; i < to; i++) x[i] = y[i] + 3f * z[i]; });
                ts[t].start();
            }
            for (Thread t : ts) t.join();
            double s = (System.nanoTime() - t0) / 1e9;
            best = Math.max(best, 12.0 * n / s);
        }
        return best;
    }

    static double median(List<Double> xs) {
        double[] s = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
