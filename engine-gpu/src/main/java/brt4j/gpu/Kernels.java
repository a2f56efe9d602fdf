package brt4j.gpu;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The kernel sources (resources under brt4j/gpu/kernels), written once, with the prelude of one platform in front. */
public final class Kernels {
    private Kernels() {}

    /** The kernels of every backend; matmul.cl is compiled on CUDA too but cuBLAS does the products there. */
    static final String[] FILES = {"ops.cl", "attention.cl", "matmul.cl"};

    /** CUDA only (each file says why): tensor-core kernels written in PTX, which OpenCL C cannot express. */
    static final String[] CUDA_FILES = {"attention_mma.cu"};

    public enum Platform { CUDA, OPENCL }

    public static String source(Platform p) {
        StringBuilder sb = new StringBuilder(read(p == Platform.CUDA ? "prelude_cuda.h" : "prelude_opencl.h"));
        for (String f : FILES) sb.append("\n#line 1 \"").append(f).append("\"\n").append(read(f));
        if (p == Platform.CUDA) for (String f : CUDA_FILES) sb.append("\n#line 1 \"").append(f).append("\"\n").append(read(f));
        return sb.toString();
    }

    private static final Pattern SIGNATURE = Pattern.compile("KERNEL\\s+void\\s+(\\w+)\\s*\\(([^)]*)\\)");
    private static volatile Map<String, boolean[]> writes;

    /**
     * Per kernel, which arguments it may write: the GLOBAL pointers not declared const (the sources declare every
     * read-only buffer const). GpuBackend bumps the version of those buffers on each launch, so a cached bf16 copy
     * is never read after its float32 values changed.
     */
    public static boolean[] writes(String kernel) {
        Map<String, boolean[]> w = writes;
        if (w == null) {
            w = new HashMap<>();
            for (String f : allFiles()) {
                Matcher m = SIGNATURE.matcher(read(f));
                while (m.find()) {
                    String[] params = m.group(2).split(",");
                    boolean[] b = new boolean[params.length];
                    for (int i = 0; i < params.length; i++) {
                        String p = params[i];
                        b[i] = p.contains("*") && p.contains("GLOBAL") && !p.contains("const");
                    }
                    w.put(m.group(1), b);
                }
            }
            writes = w;
        }
        boolean[] b = w.get(kernel);
        if (b == null) throw new IllegalArgumentException("no kernel named " + kernel + " in " + String.join(", ", allFiles()));
        return b;
    }

    private static String[] allFiles() {
        String[] all = Arrays.copyOf(FILES, FILES.length + CUDA_FILES.length);
        System.arraycopy(CUDA_FILES, 0, all, FILES.length, CUDA_FILES.length);
        return all;
    }

    static String read(String name) {
        try (InputStream in = Kernels.class.getResourceAsStream("kernels/" + name)) {
            if (in == null) throw new IllegalStateException("kernel source " + name + " is missing from the jar");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static String sha256(String... parts) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (String p : parts) { md.update(p.getBytes(StandardCharsets.UTF_8)); md.update((byte) 0); }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
