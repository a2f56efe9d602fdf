package brt4j.cli;

import brt4j.backend.Backend;
import brt4j.backend.cpu.CpuBackend;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code --device} option: {@code auto | cpu | cuda[:N] | opencl[:N]}. Only the CPU backend is built so far;
 * {@code auto} picks it and says so, a GPU kind is refused with a sentence (the GPU backends plug in here).
 */
final class Devices {
    private static final Pattern SPEC = Pattern.compile("(auto|cpu|cuda|opencl)(?::(\\d+))?");

    private Devices() {}

    /** Parses and opens the device; {@code threads} 0 means all available processors. */
    static Backend open(String spec, int threads, java.io.PrintStream log) {
        Matcher m = SPEC.matcher(spec == null ? "auto" : spec.trim().toLowerCase());
        if (!m.matches()) {
            throw new IllegalArgumentException("--device must be auto, cpu, cuda[:N] or opencl[:N], got '" + spec + "'");
        }
        String kind = m.group(1);
        if (kind.equals("cuda") || kind.equals("opencl")) {
            throw new IllegalArgumentException("the " + kind + " backend is not built into brt yet; use --device cpu (or auto)");
        }
        if (kind.equals("cpu") && m.group(2) != null) throw new IllegalArgumentException("--device cpu takes no index, got '" + spec + "'");
        CpuBackend be = threads > 0 ? new CpuBackend(threads) : new CpuBackend();
        if (kind.equals("auto")) log.println("device: cpu (" + be.threads() + " threads, " + CpuBackend.vectorBits() + "-bit vectors); no GPU backend is built yet");
        return be;
    }
}
