package brt4j.gpu.cuda;

import brt4j.gpu.Ffm;
import brt4j.gpu.GpuException;
import brt4j.gpu.LazyBinding;
import brt4j.gpu.NativeLibraries;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Bindings to NCCL (libnccl.so.2), only what data-parallel training calls: communicator set-up from a unique id,
 * all-reduce and broadcast on a CUDA stream, groups, asynchronous-error polling, abort, and the error strings. Device
 * pointers and the stream go over as 64-bit values (CUdeviceptr, cudaStream_t 0 = the legacy default stream, where
 * {@link CudaBackend} queues all its work). Every call returns an ncclResult_t; {@link #check} turns one into an
 * error with NCCL's name and text for it, and the communicator's last error message when there is one.
 */
public final class Nccl {
    public static final int SUCCESS = 0, INVALID_ARGUMENT = 4, IN_PROGRESS = 7;
    public static final int FLOAT32 = 7, FLOAT64 = 8;
    public static final int SUM = 0;
    /** ncclUniqueId: struct { char internal[128]; }, passed by value to ncclCommInitRank. */
    public static final int UNIQUE_ID_BYTES = 128;
    static final MemoryLayout UNIQUE_ID = MemoryLayout.structLayout(MemoryLayout.sequenceLayout(UNIQUE_ID_BYTES, JAVA_BYTE));

    private static final LazyBinding<Nccl> INSTANCE = new LazyBinding<>(Nccl::load);

    final MethodHandle getVersion, getUniqueId, commInitRank, commDestroy, commAbort, commGetAsyncError, allReduce, broadcast,
            groupStart, groupEnd, getErrorString, getLastError, commFinalize;

    private Nccl(Ffm f) {
        getVersion = f.fn("ncclGetVersion", JAVA_INT, ADDRESS);
        getUniqueId = f.fn("ncclGetUniqueId", JAVA_INT, ADDRESS);
        commInitRank = f.fn("ncclCommInitRank", JAVA_INT, ADDRESS, JAVA_INT, UNIQUE_ID, JAVA_INT);
        commDestroy = f.fn("ncclCommDestroy", JAVA_INT, ADDRESS);
        commAbort = f.fn("ncclCommAbort", JAVA_INT, ADDRESS);
        commGetAsyncError = f.fn("ncclCommGetAsyncError", JAVA_INT, ADDRESS, ADDRESS);
        allReduce = f.fn("ncclAllReduce", JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
        broadcast = f.fn("ncclBroadcast", JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
        groupStart = f.fn("ncclGroupStart", JAVA_INT);
        groupEnd = f.fn("ncclGroupEnd", JAVA_INT);
        getErrorString = f.fn("ncclGetErrorString", ADDRESS, JAVA_INT);
        getLastError = f.optional("ncclGetLastError", ADDRESS, ADDRESS);       // NCCL 2.13+
        commFinalize = f.optional("ncclCommFinalize", JAVA_INT, ADDRESS);      // NCCL 2.14+
    }

    /** The loaded library; a {@link GpuException} listing every place looked at when there is none. */
    public static Nccl get() { return INSTANCE.get(); }

    private static Nccl load() {
        var lib = NativeLibraries.load("NCCL (libnccl.so.2, needed for --gpus)", "libnccl\\.so(\\.\\d+)*",
                List.of("libnccl.so.2", "libnccl.so"), Arena.global());
        return new Nccl(new Ffm(lib, "libnccl"));
    }

    /** "2.28.9" */
    public String version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check((int) getVersion.invokeExact(v), "ncclGetVersion", MemorySegment.NULL);
            int code = v.get(JAVA_INT, 0);   // major*10000 + minor*100 + patch since 2.9
            return code >= 10000 ? (code / 10000) + "." + (code / 100 % 100) + "." + (code % 100)
                    : (code / 1000) + "." + (code / 100 % 10) + "." + (code % 100);
        } catch (GpuException e) {
            throw e;
        } catch (Throwable t) {
            throw new GpuException("nccl: " + t, t);
        }
    }

    /** A fresh unique id (NCCL_COMM_ID set: the one every rank derives from that address). */
    public byte[] uniqueId() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment id = a.allocate(UNIQUE_ID);
            check((int) getUniqueId.invokeExact(id), "ncclGetUniqueId", MemorySegment.NULL);
            return id.toArray(JAVA_BYTE);
        } catch (GpuException e) {
            throw e;
        } catch (Throwable t) {
            throw new GpuException("nccl: " + t, t);
        }
    }

    /** Throws unless {@code err} is ncclSuccess (or ncclInProgress, which a blocking communicator never returns). */
    void check(int err, String what, MemorySegment comm) {
        if (err != SUCCESS && err != IN_PROGRESS) throw new GpuException("nccl: " + what + " failed: " + describe(err, comm));
    }

    /** "ncclInvalidArgument (4): invalid argument (run with NCCL_DEBUG=WARN for details); last error: ..." */
    String describe(int err, MemorySegment comm) {
        String text;
        try {
            text = ((MemorySegment) getErrorString.invokeExact(err)).reinterpret(1024).getString(0);
        } catch (Throwable t) {
            text = "";
        }
        String last = "";
        if (getLastError != null) {
            try {
                MemorySegment p = (MemorySegment) getLastError.invokeExact(comm);
                if (!p.equals(MemorySegment.NULL)) last = p.reinterpret(4096).getString(0).strip();
            } catch (Throwable ignored) {
                // no last error
            }
        }
        return name(err) + " (" + err + ")" + (text.isEmpty() ? "" : ": " + text) + (last.isEmpty() ? "" : "; NCCL says: " + last);
    }

    static String name(int r) {
        return switch (r) {
            case 0 -> "ncclSuccess";
            case 1 -> "ncclUnhandledCudaError";
            case 2 -> "ncclSystemError";
            case 3 -> "ncclInternalError";
            case 4 -> "ncclInvalidArgument";
            case 5 -> "ncclInvalidUsage";
            case 6 -> "ncclRemoteError";
            case 7 -> "ncclInProgress";
            default -> "ncclResult " + r;
        };
    }

    /**
     * Sets an environment variable of this process through libc (NCCL reads NCCL_COMM_ID with getenv, and Java cannot
     * set one otherwise); must happen before NCCL's first call.
     */
    public static void setenv(String name, String value) {
        Linker l = Linker.nativeLinker();
        MethodHandle h = l.downcallHandle(l.defaultLookup().find("setenv").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        try (Arena a = Arena.ofConfined()) {
            int r = (int) h.invokeExact(a.allocateFrom(name), a.allocateFrom(value), 1);
            if (r != 0) throw new GpuException("setenv " + name + " failed");
        } catch (GpuException e) {
            throw e;
        } catch (Throwable t) {
            throw new GpuException("setenv " + name + ": " + t, t);
        }
    }
}
