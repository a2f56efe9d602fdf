package brt4j.cli;

import brt4j.backend.Backend;
import brt4j.backend.ref.ReferenceBackend;
import brt4j.check.TensorDiff;
import brt4j.gpu.Devices;
import brt4j.gpu.GpuBackend;
import brt4j.gpu.StepCheck;
import brt4j.model.Batch;
import brt4j.model.BrtModel;
import brt4j.model.ModelCheckpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;

/**
 * {@code brt check --checkpoint DIR --devices cpu,cuda}: the same batch through forward, backward and one AdamW step
 * on two backends (a warm-up segment first, so the carried memory is used), printing the max relative error of the
 * logits, the loss, every gradient and every updated parameter; exit status 1 above the threshold of the precision
 * in play (README: float32 1e-4, TF32 1e-2, bf16 5e-2).
 */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = "Compare a training step of a checkpoint on two devices, tensor by tensor.")
public final class CheckCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = CheckpointPath.DESCRIPTION)
    Path checkpoint;

    @Option(names = "--devices", defaultValue = "cpu,cuda", description = "Expected,actual devices (default: ${DEFAULT-VALUE}).")
    String devices;

    @Option(names = "--precision", defaultValue = "fp32", description = "GPU matmul precision: fp32, tf32 or bf16 (default: ${DEFAULT-VALUE}).")
    String precision;

    @Option(names = "--batch", defaultValue = "2", description = "Rows of the checked batch (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the tokens and dropout masks (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--tolerance", description = "Override the threshold.")
    Double tolerance;

    /** The thresholds the README states, by matmul precision. */
    static double threshold(String precision) {
        return switch (precision.toLowerCase(Locale.ROOT)) {
            case "tf32" -> 1e-2;
            case "bf16", "bfloat16" -> 5e-2;
            default -> 1e-4;
        };
    }

    @Override
    public Integer call() {
        checkpoint = CheckpointPath.resolve(checkpoint);
        if (!Files.isDirectory(checkpoint)) throw new IllegalArgumentException(checkpoint + ": no such checkpoint directory");
        String[] d = devices.split(",");
        if (d.length != 2) throw new IllegalArgumentException("--devices takes two devices, expected,actual (e.g. cpu,cuda); got '" + devices + "'");
        if (batch <= 0) throw new IllegalArgumentException("--batch must be positive, got " + batch);
        if (tolerance != null && !(tolerance > 0)) throw new IllegalArgumentException("--tolerance must be positive, got " + tolerance);
        double tol = tolerance != null ? tolerance : threshold(precision);
        try (Backend a = Devices.open(d[0].trim(), precision, System.err); Backend b = Devices.open(d[1].trim(), precision, System.err)) {
            System.out.println("expected: " + describe(a));
            System.out.println("actual:   " + describe(b));
            BrtModel ma = ModelCheckpoint.load(checkpoint, a);
            BrtModel mb = StepCheck.copyTo(ma, b);
            int n = ma.config().segment(), v = ma.config().vocabSize();
            Random r = new Random(seed);
            Batch warm = new Batch(tokens(r, batch, n, v), allTrue(batch));
            boolean[] start = new boolean[batch];
            start[batch - 1] = true;
            Batch step = new Batch(tokens(r, batch, n, v), start);
            StepCheck.Run ra = StepCheck.run(ma, warm, step, seed), rb = StepCheck.run(mb, warm, step, seed);
            List<TensorDiff> diffs = StepCheck.compare(ra, rb, tol);
            // Two figures, because they answer different questions: the largest error relative to a tensor's own
            // scale (what a reader expects from "relative error"), and the largest share of the bound the pass rule
            // actually applies, tol * max(1, max|expected|), which is absolute for tensors smaller than 1.
            TensorDiff worstRel = null, worstShare = null;
            int failed = 0;
            for (TensorDiff t : diffs) {
                System.out.println(t.line());
                if (worstRel == null || !(t.maxRel() <= worstRel.maxRel())) worstRel = t;
                if (worstShare == null || !(share(t) <= share(worstShare))) worstShare = t;
                if (!t.pass()) failed++;
            }
            System.out.printf(Locale.ROOT, "%s: %d tensors, %d over the bound tol * max(1, max|expected|), tol %.1e (%s)%n",
                    failed == 0 ? "PASS" : "FAIL", diffs.size(), failed, tol, precision);
            System.out.printf(Locale.ROOT, "  largest share of its bound: %.3f (%s); largest error relative to a tensor's scale: %.3e (%s)%n",
                    share(worstShare), worstShare.name(), worstRel.maxRel(), worstRel.name());
            return failed == 0 ? 0 : 1;
        }
    }

    /** How much of its allowed absolute error a tensor used: above 1 fails. */
    private static double share(TensorDiff t) {
        return t.tolerance() > 0 ? t.maxAbs() / t.tolerance() : Double.POSITIVE_INFINITY;
    }

    private static String describe(Backend b) {
        if (b instanceof GpuBackend g) return g.describe();
        return b.name() + (b instanceof ReferenceBackend ? " (float64 oracle)" : " (float32)");
    }

    private static int[][] tokens(Random r, int rows, int n, int v) {
        int[][] t = new int[rows][n];
        for (int[] row : t) for (int i = 0; i < n; i++) row[i] = r.nextInt(v);
        return t;
    }

    private static boolean[] allTrue(int n) {
        boolean[] b = new boolean[n];
        java.util.Arrays.fill(b, true);
        return b;
    }
}
