package brt4j.gpu.cuda;

import brt4j.gpu.Ffm;
import brt4j.gpu.GpuException;
import brt4j.gpu.LazyBinding;
import brt4j.gpu.NativeLibraries;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** Bindings to NVRTC (libnvrtc.so.*, any major version found): CUDA C++ source to PTX. */
public final class Nvrtc {
    private static final LazyBinding<Nvrtc> INSTANCE = new LazyBinding<>(Nvrtc::load);

    final MethodHandle version, createProgram, compileProgram, getProgramLogSize, getProgramLog, getPTXSize, getPTX,
            destroyProgram, getErrorString;

    private Nvrtc(Ffm f) {
        version = f.fn("nvrtcVersion", JAVA_INT, ADDRESS, ADDRESS);
        createProgram = f.fn("nvrtcCreateProgram", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS);
        compileProgram = f.fn("nvrtcCompileProgram", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS);
        getProgramLogSize = f.fn("nvrtcGetProgramLogSize", JAVA_INT, ADDRESS, ADDRESS);
        getProgramLog = f.fn("nvrtcGetProgramLog", JAVA_INT, ADDRESS, ADDRESS);
        getPTXSize = f.fn("nvrtcGetPTXSize", JAVA_INT, ADDRESS, ADDRESS);
        getPTX = f.fn("nvrtcGetPTX", JAVA_INT, ADDRESS, ADDRESS);
        destroyProgram = f.fn("nvrtcDestroyProgram", JAVA_INT, ADDRESS);
        getErrorString = f.fn("nvrtcGetErrorString", ADDRESS, JAVA_INT);
    }

    public static Nvrtc get() { return INSTANCE.get(); }

    private static Nvrtc load() {
        var lib = NativeLibraries.load("NVRTC (libnvrtc.so.*)", "libnvrtc\\.so(\\.\\d+)*",
                List.of("libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"), Arena.global());
        return new Nvrtc(new Ffm(lib, "libnvrtc"));
    }

    public String versionString() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ma = a.allocate(JAVA_INT), mi = a.allocate(JAVA_INT);
            int err = (int) version.invokeExact(ma, mi);
            return err == 0 ? ma.get(JAVA_INT, 0) + "." + mi.get(JAVA_INT, 0) : "?";
        } catch (Throwable t) {
            return "?";
        }
    }

    /** Compiles {@code src} to PTX for {@code arch} (e.g. "compute_90"); the compiler log in the error when it fails. */
    public String compile(String src, String name, String arch) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment progp = a.allocate(ADDRESS);
            check((int) createProgram.invokeExact(progp, a.allocateFrom(src), a.allocateFrom(name), 0, MemorySegment.NULL,
                    MemorySegment.NULL), "nvrtcCreateProgram");
            MemorySegment prog = progp.get(ADDRESS, 0);
            try {
                String[] opts = {"--gpu-architecture=" + arch, "--std=c++17", "-default-device"};
                MemorySegment optv = a.allocate(ADDRESS, opts.length);
                for (int i = 0; i < opts.length; i++) optv.setAtIndex(ADDRESS, i, a.allocateFrom(opts[i]));
                int err = (int) compileProgram.invokeExact(prog, opts.length, optv);
                if (err != 0) {
                    throw new GpuException("cuda: the kernels did not compile with NVRTC " + versionString() + " for " + arch
                            + " (" + errorString(err) + "); compiler log:\n" + log(a, prog));
                }
                MemorySegment n = a.allocate(JAVA_LONG);
                check((int) getPTXSize.invokeExact(prog, n), "nvrtcGetPTXSize");
                MemorySegment ptx = a.allocate(n.get(JAVA_LONG, 0));
                check((int) getPTX.invokeExact(prog, ptx), "nvrtcGetPTX");
                return ptx.getString(0);
            } finally {
                int ignored = (int) destroyProgram.invokeExact(progp);
            }
        } catch (GpuException e) {
            throw e;
        } catch (Throwable t) {
            throw new GpuException("cuda: NVRTC: " + t, t);
        }
    }

    private String log(Arena a, MemorySegment prog) throws Throwable {
        MemorySegment n = a.allocate(JAVA_LONG);
        if ((int) getProgramLogSize.invokeExact(prog, n) != 0) return "(no log)";
        MemorySegment log = a.allocate(Math.max(1, n.get(JAVA_LONG, 0)));
        if ((int) getProgramLog.invokeExact(prog, log) != 0) return "(no log)";
        return log.getString(0);
    }

    private void check(int err, String what) {
        if (err != 0) throw new GpuException("cuda: " + what + " failed: " + errorString(err));
    }

    private String errorString(int err) {
        try {
            MemorySegment s = (MemorySegment) getErrorString.invokeExact(err);
            return s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "error " + err;
        }
    }

    static { ValueLayout.JAVA_BYTE.byteSize(); }
}
