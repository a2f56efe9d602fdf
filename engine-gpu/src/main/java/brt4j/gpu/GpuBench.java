package brt4j.gpu;

import brt4j.autograd.Graph;
import brt4j.autograd.Var;
import brt4j.backend.Backend;
import brt4j.model.Batch;
import brt4j.model.BrtModel;
import brt4j.model.Memory;
import brt4j.model.ModelConfig;
import brt4j.model.Parameters;
import brt4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Training throughput on a GPU: the paper's medium_150M shapes (V=32128, d=1024, 8x128 heads, F=4096, 4096 tokens a
 * step) for Rec:fixed:skip (12 layers, recurrent layer 9, W=512, S=512), Slide:13L (13 layers, W=512) and XL:2048
 * (12 layers, W=2048); forward + backward + AdamW per step, timed after a device sync, median of the timed steps.
 * Usage: GpuBench DEVICE PRECISION STEPS [family...]
 */
public final class GpuBench {
    private GpuBench() {}

    /**
     * Untimed steps first ({@code -Dbrt.bench.warmup}): the host code has to be compiled by C2 before a step shows its
     * steady state, and Rec's per-block cell took 10-20 steps on the H200's host (29.5 ms at step 2, 28.3 by 16).
     */
    static final int WARMUP = Integer.getInteger("brt.bench.warmup", 10);

    static ModelConfig config(String family) {
        int layers = family.equals("Slide:13L") ? 13 : 12;
        int window = family.equals("XL:2048") ? 2048 : 512;
        int[] rec = family.startsWith("Rec") ? new int[]{9} : new int[0];
        return new ModelConfig(32128, 1024, layers, 8, 128, 4096, window, 4096, 512, rec, ModelConfig.Gate.FIXED,
                ModelConfig.StateFfn.SKIP, false, true, ModelConfig.LogitScale.INV_SQRT_VOCAB, 32, 128, 1e-6, 0, 0);
    }

    public static void main(String[] args) {
        String device = args.length > 0 ? args[0] : "cuda";
        String precision = args.length > 1 ? args[1] : "bf16";
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        List<String> families = args.length > 3 ? List.of(args).subList(3, args.length) : List.of("Rec:fixed:skip", "Slide:13L", "XL:2048");
        try (Backend be = Devices.open(device, precision, System.out)) {
            if (be instanceof GpuBackend g) System.out.println(g.describe());
            System.out.println("| model | precision | params | step ms (median) | tokens/s | model TFLOP/s (6PT) | kernels/step |");
            System.out.println("| --- | --- | --- | --- | --- | --- | --- |");
            for (String f : families) bench(be, f, precision, steps);
        }
    }

    static void bench(Backend be, String family, String precision, int steps) {
        ModelConfig c = config(family);
        BrtModel m = new BrtModel(Parameters.initialize(c, be, 1));
        long params = m.parameters().count();
        List<Tensor[]> opt = new ArrayList<>();
        for (Var p : m.parameters().vars()) opt.add(new Tensor[]{be.zeros(p.value.shape()), be.zeros(p.value.shape())});
        Random r = new Random(3);
        Memory mem = Memory.empty(c, be, 1);
        List<Double> times = new ArrayList<>();
        long launches0 = 0, launches1 = 0;
        for (int s = 0; s < steps + WARMUP; s++) {
            int[][] tok = new int[1][c.segment()];
            for (int i = 0; i < tok[0].length; i++) tok[0][i] = r.nextInt(c.vocabSize());
            Batch b = new Batch(tok, new boolean[]{s == 0});
            sync(be);
            if (s == WARMUP && be instanceof GpuBackend g) g.resetProfile();
            if (be instanceof GpuBackend g) launches0 = g.launches();
            long t0 = System.nanoTime(), tFwd;
            m.parameters().zeroGrads();
            double loss;
            try (Graph g = new Graph(be, true, s)) {
                var res = m.forward(g, b, mem, false);
                loss = res.loss();
                tFwd = System.nanoTime();                   // the loss was read back: the forward is done on the device
                g.backward();
                mem.free(be);
                mem = res.memory();
            }
            int i = 0;
            for (Var p : m.parameters().vars()) {
                Tensor[] mv = opt.get(i++);
                if (p.grad() != null) be.adamW(p.value, p.grad(), mv[0], mv[1], 1e-4, 0.9, 0.98, 1e-8, 0.0, s + 1);
            }
            long tQueued = System.nanoTime();
            sync(be);
            long tEnd = System.nanoTime();
            double ms = (tEnd - t0) / 1e6;
            if (be instanceof GpuBackend g) launches1 = g.launches();
            if (s >= WARMUP) times.add(ms);
            // Backward and optimizer: how long the host took to queue them against how long until the device finished
            // them (queued ~ done: the host is the bottleneck; queued << done: the device is).
            System.out.printf(Locale.ROOT, "  %s step %d: %.1f ms, loss %.4f (forward %.1f ms; backward + AdamW queued in %.1f ms, done after %.1f ms)%n",
                    family, s, ms, loss, (tFwd - t0) / 1e6, (tQueued - tFwd) / 1e6, (tEnd - tFwd) / 1e6);
        }
        if (be instanceof GpuBackend g && !g.profile().isEmpty()) printProfile(g, family, steps);
        times.sort(Double::compare);
        double med = times.get(times.size() / 2);
        double tokens = c.segment();
        System.out.printf(Locale.ROOT, "| %s | %s | %.1fM | %.1f | %.0f | %.1f | %d |%n", family, precision, params / 1e6, med,
                tokens / (med / 1000), 6.0 * params * tokens / (med / 1000) / 1e12, launches1 - launches0);
        for (Tensor[] mv : opt) { be.free(mv[0]); be.free(mv[1]); }
        if (be instanceof GpuBackend g) g.emptyCache();
    }

    /** Per kernel name: calls and milliseconds per step, sorted by time (-Dbrt.gpu.profile=true). */
    static void printProfile(GpuBackend g, String family, int steps) {
        var rows = new ArrayList<>(g.profile().entrySet());
        rows.sort((a, b) -> Long.compare(b.getValue()[1], a.getValue()[1]));
        double total = 0;
        for (var e : rows) total += e.getValue()[1];
        System.out.printf(Locale.ROOT, "profile %s (%s, per step over %d steps): %.1f ms in calls%n", family, g.profileMethod(),
                steps, total / 1e6 / steps);
        int shown = 0;
        for (var e : rows) {
            if (shown++ == 40) break;
            System.out.printf(Locale.ROOT, "  %-44s %7.1f calls %9.2f ms %5.1f%%%n", e.getKey(), e.getValue()[0] / (double) steps,
                    e.getValue()[1] / 1e6 / steps, 100 * e.getValue()[1] / total);
        }
        g.resetProfile();
    }

    private static void sync(Backend be) { if (be instanceof GpuBackend g) g.synchronize(); }
}
