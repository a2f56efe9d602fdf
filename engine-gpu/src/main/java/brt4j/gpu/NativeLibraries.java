package brt4j.gpu;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Finds the vendor libraries (libcuda, libnvrtc, libcublas, libnccl, libOpenCL) without any native code of ours: the
 * folders named by NCCL_HOME / CUDA_HOME / CUDA_PATH, LD_LIBRARY_PATH, the usual install folders and Python's nvidia
 * wheels (of $VIRTUAL_ENV too), then the system loader by plain name. A library not found anywhere is one error that lists every place looked at.
 */
public final class NativeLibraries {
    private NativeLibraries() {}

    /** Folders searched in order. */
    public static List<Path> searchFolders() {
        Set<Path> dirs = new LinkedHashSet<>();
        for (String env : new String[]{"NCCL_HOME", "CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"}) {
            String v = System.getenv(env);
            if (v != null && !v.isBlank()) {
                dirs.add(Path.of(v, "lib64"));
                dirs.add(Path.of(v, "lib"));
                dirs.add(Path.of(v, "targets", "x86_64-linux", "lib"));
            }
        }
        String ld = System.getenv("LD_LIBRARY_PATH");
        if (ld != null) for (String p : ld.split(":")) if (!p.isBlank()) dirs.add(Path.of(p));
        dirs.add(Path.of("/usr/local/cuda/lib64"));
        dirs.add(Path.of("/usr/local/cuda/targets/x86_64-linux/lib"));
        globDirs(Path.of("/usr/local"), "cuda-*", "lib64", dirs);
        dirs.add(Path.of("/usr/local/nvidia/lib64"));
        dirs.add(Path.of("/usr/local/nvidia/lib"));
        dirs.add(Path.of("/usr/lib/x86_64-linux-gnu"));
        dirs.add(Path.of("/usr/lib64"));
        dirs.add(Path.of("/usr/lib"));
        dirs.add(Path.of("/usr/lib/wsl/lib"));
        dirs.add(Path.of("/opt/cuda/lib64"));
        // pip's nvidia-* wheels (PyTorch installs): site-packages/nvidia/<pkg>/lib (nccl/lib among them) and nvidia/cu13/lib
        String venv = System.getenv("VIRTUAL_ENV");
        String[] roots = venv != null && !venv.isBlank() ? new String[]{venv + "/lib", "/opt/torch/.venv/lib", "/usr/local/lib", "/usr/lib"}
                : new String[]{"/opt/torch/.venv/lib", "/usr/local/lib", "/usr/lib"};
        for (String root : roots) {
            try (DirectoryStream<Path> py = Files.newDirectoryStream(Path.of(root), "python3*")) {
                for (Path p : py) {
                    for (String sp : new String[]{"site-packages", "dist-packages"}) {
                        Path nv = p.resolve(sp).resolve("nvidia");
                        globDirs(nv, "*", "lib", dirs);
                    }
                }
            } catch (IOException | RuntimeException ignored) {
                // not there
            }
        }
        return new ArrayList<>(dirs);
    }

    private static void globDirs(Path parent, String glob, String sub, Set<Path> out) {
        if (!Files.isDirectory(parent)) return;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(parent, glob)) {
            List<Path> found = new ArrayList<>();
            for (Path p : ds) if (Files.isDirectory(p.resolve(sub))) found.add(p.resolve(sub));
            found.sort(Comparator.reverseOrder());
            out.addAll(found);
        } catch (IOException ignored) {
            // unreadable folder: skip it
        }
    }

    /**
     * Loads the first library matching {@code fileRegex} (e.g. {@code libnvrtc\.so(\.\d+)*}), preferring the highest
     * version in the first folder that has one, else the first of {@code loaderNames} the system loader knows.
     */
    public static SymbolLookup load(String what, String fileRegex, List<String> loaderNames, Arena arena) {
        Pattern pat = Pattern.compile(fileRegex);
        List<Path> dirs = searchFolders();
        List<String> failures = new ArrayList<>();
        for (Path d : dirs) {
            if (!Files.isDirectory(d)) continue;
            List<Path> hits = new ArrayList<>();
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(d)) {
                for (Path p : ds) if (pat.matcher(p.getFileName().toString()).matches()) hits.add(p);
            } catch (IOException e) {
                continue;
            }
            hits.sort(Comparator.comparing((Path p) -> versionKey(p.getFileName().toString())).reversed());
            for (Path p : hits) {
                try {
                    return SymbolLookup.libraryLookup(p, arena);
                } catch (IllegalArgumentException e) {
                    failures.add(p + " (" + e.getMessage() + ")");
                }
            }
        }
        for (String n : loaderNames) {
            try {
                return SymbolLookup.libraryLookup(n, arena);
            } catch (IllegalArgumentException e) {
                // try the next name
            }
        }
        throw new GpuException(what + " not found: looked for " + fileRegex.replace("\\", "") + " in " + dirs
                + " and for " + loaderNames + " through the system loader"
                + (failures.isEmpty() ? "" : "; could not load " + failures)
                + ". Install it, or point " + (fileRegex.contains("nccl") ? "NCCL_HOME" : "CUDA_HOME") + " or LD_LIBRARY_PATH at its folder.");
    }

    /** "libnvrtc.so.12.4.99" sorts above "libnvrtc.so.11.8"; digits compared as numbers, padded. */
    private static String versionKey(String name) {
        StringBuilder sb = new StringBuilder();
        for (String part : name.split("\\.")) {
            if (part.matches("\\d+")) sb.append(String.format("%08d", Long.parseLong(part) % 100_000_000L));
            else sb.append(part);
            sb.append('.');
        }
        return sb.toString();
    }
}
