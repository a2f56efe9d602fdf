package brt4j.bench.train;

import brt4j.bench.EngineLoader;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * A/B of whole training steps in one JVM: two engines (a jar or a classes folder each), each with these benchmark
 * classes in its own class loader, take single steps in turn, ABBA. On a host whose speed swings 20-35% from one
 * minute to the next, two separate runs say little; steps a second apart see the same machine. Prints the median
 * of the pairs' speed ratios (new / base) with its quartiles, and both sides' step times.
 *
 * <p>Usage: {@code StepAB BASE_ENGINE NEW_ENGINE CONFIG THREADS PAIRS [dropout] [--new-first]}, run from the
 * repository root (benchmarks/target/classes and benchmarks/target/lib supply the rest); benchmarks/scripts/step-ab.sh
 * builds the base engine from a git revision and calls it in both load orders (the engine loaded first is compiled
 * first and can read a few percent faster with identical code, as in GemmAB). At one thread neither engine has pool
 * workers. At two, each engine's pool worker spins 2 ms after each job (CpuPool) while the other engine's step has
 * begun: identical engines read 0.840 and 1.236 in the two orders that way, so step-ab.sh runs two threads with
 * -Dbrt.cpu.spinMicros=0 (1.011 and 1.020; benchmarks/results/training.md, session 15).
 */
public final class StepAB {
    private static final int WARMUP = 25;

    public static void main(String[] args) throws Exception {
        if (args.length < 5) {
            System.err.println("usage: StepAB BASE_ENGINE NEW_ENGINE CONFIG THREADS PAIRS [dropout] [--new-first]");
            System.exit(2);
        }
        String config = args[2];
        int threads = Integer.parseInt(args[3]), pairs = Integer.parseInt(args[4]);
        java.util.List<String> flags = Arrays.asList(args).subList(5, args.length);
        boolean dropout = flags.contains("dropout"), newFirst = flags.contains("--new-first");
        Runnable[] side = new Runnable[2];
        int first = newFirst ? 1 : 0;
        side[first] = stepper(Path.of(args[first]), config, threads, dropout);   // loaded and compiled first
        side[1 - first] = stepper(Path.of(args[1 - first]), config, threads, dropout);
        for (int w = 0; w < WARMUP; w++) {
            side[first].run();
            side[1 - first].run();
        }
        double[] base = new double[2 * pairs], fresh = new double[2 * pairs], ratio = new double[pairs];
        for (int p = 0; p < pairs; p++) {
            int[] order = p % 2 == 0 ? new int[]{0, 1, 1, 0} : new int[]{1, 0, 0, 1};
            double[] sum = new double[2];
            int nb = 2 * p, nn = 2 * p;
            for (int who : order) {
                long t0 = System.nanoTime();
                side[who].run();
                double ms = (System.nanoTime() - t0) / 1e6;
                sum[who] += ms;
                if (who == 0) base[nb++] = ms; else fresh[nn++] = ms;
            }
            ratio[p] = sum[0] / sum[1];
        }
        Arrays.sort(base);
        Arrays.sort(fresh);
        Arrays.sort(ratio);
        System.out.printf("%d thread(s), %s: step ms, median (min): base %.1f (%.1f), new %.1f (%.1f)%n", threads, config,
                base[base.length / 2], base[0], fresh[fresh.length / 2], fresh[0]);
        System.out.printf("speed new / base: median of %d ABBA pairs %.3f (quartiles %.3f, %.3f)%s%n",
                pairs, ratio[pairs / 2], ratio[pairs / 4], ratio[3 * pairs / 4], newFirst ? "  (new loaded first)" : "");
        System.exit(0);    // the steppers' trainer threads wait for a next step that never comes
    }

    private static Runnable stepper(Path engine, String config, int threads, boolean dropout) throws Exception {
        return (Runnable) EngineLoader.of(engine).loadClass("brt4j.bench.train.Stepper")   // by name: not through this loader
                .getConstructor(String.class, int.class, boolean.class).newInstance(config, threads, dropout);
    }
}
