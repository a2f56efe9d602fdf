package brt4j.bench.model;

import brt4j.autograd.Graph;
import brt4j.backend.Backend;
import brt4j.backend.cpu.CpuBackend;
import brt4j.model.Batch;
import brt4j.model.BrtModel;
import brt4j.model.Memory;
import brt4j.model.ModelConfig;
import brt4j.model.Parameters;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Forward+backward training throughput of the paper's model families at one width, in one run (issue 3): the
 * paper's step times are Rec:fixed:skip 0.99, Slide:13L 1.00, XL:2048 2.11, XL:512 0.88 (spec §3.1). Every model
 * processes the same tokens per step (XL:W runs N/W rows of W tokens, as the paper's seq_W.gin does); the configs
 * run interleaved, repetition by repetition, and the medians are compared with Slide:13L measured in the same run.
 *
 * <p>Usage: {@code ModelThroughput [size=small_37M] [tokens=4096] [window=512] [reps=3] [vocab=32128] [families=...]}
 */
public final class ModelThroughput {
    public static void main(String[] args) {
        Map<String, String> a = new LinkedHashMap<>();
        for (String s : args) { String[] kv = s.split("=", 2); a.put(kv[0], kv.length > 1 ? kv[1] : ""); }
        String size = a.getOrDefault("size", "small_37M");
        int tokens = Integer.parseInt(a.getOrDefault("tokens", "4096"));
        int window = Integer.parseInt(a.getOrDefault("window", "512"));
        int reps = Integer.parseInt(a.getOrDefault("reps", "3"));
        int vocab = Integer.parseInt(a.getOrDefault("vocab", "32128"));
        List<String> families = List.of(a.getOrDefault("families", "Rec:fixed:skip,Slide:13L,XL:512,XL:2048").split(","));

        Backend be = new CpuBackend();
        ModelConfig base = ModelConfig.preset(size).withVocab(vocab).withDropout(0, 0);
        Map<String, BrtModel> models = new LinkedHashMap<>();
        Map<String, Batch> batches = new LinkedHashMap<>();
        for (String f : families) {
            ModelConfig c = family(base, f, tokens, window);
            models.put(f, new BrtModel(Parameters.initialize(c, be, 1)));
            int rows = tokens / c.segment();
            if (rows == 0) throw new IllegalArgumentException(f + " needs at least " + c.segment() + " tokens a step, got " + tokens);
            Random r = new Random(2);
            int[][] t = new int[rows][c.segment()];
            for (int[] row : t) for (int i = 0; i < row.length; i++) row[i] = 1 + r.nextInt(vocab - 1);
            boolean[] start = new boolean[rows];
            Arrays.fill(start, true);
            batches.put(f, new Batch(t, start));
        }
        System.out.printf(Locale.ROOT, "size %s (d=%d, H=%dx%d, F=%d), V=%d, %d tokens a step, W=%d, %d threads, %d-bit vectors%n",
                size, base.dModel(), base.nHeads(), base.headDim(), base.dFf(), vocab, tokens, window,
                ((CpuBackend) be).threads(), CpuBackend.vectorBits());
        Map<String, List<Double>> seconds = new LinkedHashMap<>();
        for (String f : families) seconds.put(f, new ArrayList<>());
        for (int rep = -1; rep < reps; rep++) {                  // rep -1 warms the JIT up
            for (String f : families) {
                BrtModel m = models.get(f);
                Batch b = batches.get(f);
                long t0 = System.nanoTime();
                m.parameters().zeroGrads();
                try (Graph g = new Graph(be, true, rep)) {
                    m.forward(g, b, Memory.empty(m.config(), be, b.rows()), false);
                    g.backward();
                }
                double s = (System.nanoTime() - t0) / 1e9;
                if (rep >= 0) seconds.get(f).add(s);
            }
        }
        double ref = median(seconds.getOrDefault("Slide:13L", seconds.values().iterator().next()));
        System.out.println("| model | layers | step s (median) | tokens/s | step time vs Slide:13L | paper |");
        System.out.println("|---|---|---|---|---|---|");
        Map<String, String> paper = Map.of("Rec:fixed:skip", "0.99", "Slide:13L", "1.00", "XL:512", "0.88", "XL:2048", "2.11");
        for (String f : families) {
            double med = median(seconds.get(f));
            System.out.printf(Locale.ROOT, "| %s | %d | %.2f | %.0f | %.2f | %s |%n", f, models.get(f).config().nLayers(), med,
                    tokens / med, med / ref, paper.getOrDefault(f, "-"));
        }
        System.out.println("runs (s): " + seconds);
        be.close();
    }

    static ModelConfig family(ModelConfig base, String f, int tokens, int window) {
        String json;
        var o = base.toJson();
        o.put("segment", tokens).put("window", window);
        switch (f) {
            case "Slide:12L" -> { }
            case "Slide:13L" -> o.put("n_layers", base.nLayers() + 1);
            default -> {
                if (f.startsWith("XL:")) {
                    int w = Integer.parseInt(f.substring(3));
                    o.put("segment", w).put("window", w);
                } else if (f.startsWith("Rec:") || f.startsWith("Feedback:")) {
                    String[] p = f.split(":");
                    o.putArray("recurrent_layers").add(-3);
                    o.put("gate", p[1]).put("state_ffn", p[2]).put("feedback", f.startsWith("Feedback"));
                } else {
                    throw new IllegalArgumentException("unknown family " + f);
                }
            }
        }
        json = o.toString();
        try {
            return ModelConfig.fromJson(new com.fasterxml.jackson.databind.ObjectMapper().readTree(json));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static double median(List<Double> xs) {
        double[] s = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
