package brt4j.gpu.cuda;

import brt4j.gpu.GpuException;
import brt4j.tensor.Tensor;
import brt4j.train.Communicator;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * A data-parallel {@link Communicator} over NCCL for one {@link CudaBackend} (one GPU, one rank). Collectives are
 * queued on the backend's stream (the legacy default stream), so they run after the backward pass's kernels and
 * before the optimizer's without any host synchronization; only the host sums ({@link #allReduceSum(double[])}) wait.
 *
 * <p>Gradients travel in flat buckets of up to {@link #BUCKET_FLOATS} floats: the small tensors are copied into one
 * device buffer, all-reduced with one ncclAllReduce, and copied back (a tensor at least that large is reduced in
 * place), so a step costs a few large NCCL calls rather than one per parameter.
 *
 * <p>Failures: every NCCL result is checked (the error names NCCL's code, text and last message); a watchdog thread
 * polls ncclCommGetAsyncError (a peer that died, a network error) and aborts the communicator, which makes a rank
 * blocked in a collective return; the next call then throws naming this rank and the asynchronous error.
 */
public final class NcclCommunicator implements Communicator {
    /** 8 Mi floats (32 MiB) per bucket. */
    public static final int BUCKET_FLOATS = 1 << 23;

    private final Nccl nccl;
    private final CudaBackend be;
    private final MemorySegment comm;
    private final int rank, size;
    private final Arena arena = Arena.ofShared();
    private final AtomicBoolean ended = new AtomicBoolean();
    private final ReentrantReadWriteLock callLock = new ReentrantReadWriteLock();
    private final Thread watchdog;
    private volatile String asyncError;
    private Tensor bucket, hostSums;
    private MemorySegment hostStaging = MemorySegment.NULL;

    private NcclCommunicator(Nccl nccl, CudaBackend be, MemorySegment comm, int rank, int size) {
        this.nccl = nccl;
        this.be = be;
        this.comm = comm;
        this.rank = rank;
        this.size = size;
        this.watchdog = Thread.ofPlatform().daemon().name("nccl-watchdog-" + rank).start(this::watch);
    }

    /** A unique id for a new communicator (rank 0 makes it; on one host the ranks are threads and share it). */
    public static byte[] uniqueId() { return Nccl.get().uniqueId(); }

    /**
     * The unique id of a multi-host run whose rank 0 listens at {@code hostPort} (NCCL's own TCP bootstrap:
     * NCCL_COMM_ID): every process calls this with the same address and derives the same id.
     */
    public static byte[] rendezvous(String hostPort) {
        if (!hostPort.matches("[^\\s:]+:\\d{1,5}") && !hostPort.matches("\\[[0-9a-fA-F:]+]:\\d{1,5}")) {
            throw new IllegalArgumentException("--rendezvous must be host:port (or [ipv6]:port), got '" + hostPort + "'");
        }
        Nccl.setenv("NCCL_COMM_ID", hostPort);
        return Nccl.get().uniqueId();
    }

    /** Joins rank {@code rank} of {@code size} on {@code be}'s GPU; blocks until every rank has joined. */
    public static NcclCommunicator connect(CudaBackend be, byte[] uniqueId, int rank, int size) {
        if (size <= 0 || rank < 0 || rank >= size) throw new IllegalArgumentException("rank " + rank + " is not within a world of " + size);
        if (uniqueId.length != Nccl.UNIQUE_ID_BYTES) throw new IllegalArgumentException("an NCCL unique id has 128 bytes, got " + uniqueId.length);
        Nccl nccl = Nccl.get();
        be.makeCurrent();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment id = a.allocate(Nccl.UNIQUE_ID);
            MemorySegment.copy(uniqueId, 0, id, JAVA_BYTE, 0, uniqueId.length);
            MemorySegment out = a.allocate(ADDRESS);
            int err = (int) nccl.commInitRank.invokeExact(out, size, id, rank);
            nccl.check(err, "ncclCommInitRank (rank " + rank + " of " + size + " on cuda:" + be.ordinal() + ")", MemorySegment.NULL);
            return new NcclCommunicator(nccl, be, out.get(ADDRESS, 0), rank, size);
        } catch (GpuException e) {
            throw e;
        } catch (Throwable t) {
            throw new GpuException("nccl: ncclCommInitRank: " + t, t);
        }
    }

    @Override public int rank() { return rank; }

    @Override public int size() { return size; }

    @Override public void allReduceSum(List<Tensor> tensors) { bucketed(tensors, -1); }

    @Override public void broadcast(List<Tensor> tensors, int root) {
        if (root < 0 || root >= size) throw new IllegalArgumentException("broadcast root " + root + " is not within a world of " + size);
        bucketed(tensors, root);
    }

    /** All-reduce (root < 0) or broadcast from root, bucket by bucket, all on the backend's stream. */
    private void bucketed(List<Tensor> tensors, int root) {
        int i = 0;
        while (i < tensors.size()) {
            Tensor t = tensors.get(i);
            if (t.size() >= BUCKET_FLOATS) {
                collective(be.pointer(t), t.size(), root);
                i++;
                continue;
            }
            int j = i;
            long off = 0;
            while (j < tensors.size() && off + tensors.get(j).size() <= BUCKET_FLOATS) off += tensors.get(j++).size();
            long base = bucketPointer(off);
            long o = 0;
            for (int k = i; k < j; k++) {
                Tensor x = tensors.get(k);
                be.rawCopy(be.pointer(x), base + 4 * o, 4L * x.size());
                o += x.size();
            }
            collective(base, off, root);
            o = 0;
            for (int k = i; k < j; k++) {
                Tensor x = tensors.get(k);
                be.rawCopy(base + 4 * o, be.pointer(x), 4L * x.size());
                o += x.size();
            }
            i = j;
        }
    }

    private long bucketPointer(long floats) {
        if (bucket == null || bucket.size() < floats) {
            if (bucket != null) be.free(bucket);
            bucket = be.zeros((int) Math.max(floats, Math.min(BUCKET_FLOATS, 1 << 16)));
        }
        return be.pointer(bucket);
    }

    private void collective(long ptr, long count, int root) {
        if (count == 0) return;
        call(root < 0 ? "ncclAllReduce of " + count + " floats" : "ncclBroadcast of " + count + " floats from rank " + root, () ->
                root < 0 ? (int) nccl.allReduce.invokeExact(ptr, ptr, count, Nccl.FLOAT32, Nccl.SUM, comm, MemorySegment.NULL)
                        : (int) nccl.broadcast.invokeExact(ptr, ptr, count, Nccl.FLOAT32, root, comm, MemorySegment.NULL));
    }

    /** Host values summed in float64 on the devices (this waits for the stream, hence for the work queued before). */
    @Override public double[] allReduceSum(double[] values) {
        int n = values.length;
        if (n == 0) return new double[0];
        if (hostSums == null || hostSums.size() < 2 * n) {
            if (hostSums != null) be.free(hostSums);
            hostSums = be.zeros(Math.max(2 * n, 64));
            hostStaging = arena.allocate(8L * Math.max(n, 32), 8);
        }
        long p = be.pointer(hostSums);
        MemorySegment.copy(values, 0, hostStaging, JAVA_DOUBLE, 0, n);
        be.rawWrite(p, hostStaging, 8L * n);
        call("ncclAllReduce of " + n + " doubles", () ->
                (int) nccl.allReduce.invokeExact(p, p, (long) n, Nccl.FLOAT64, Nccl.SUM, comm, MemorySegment.NULL));
        be.rawRead(p, hostStaging, 8L * n);
        throwIfFailed();
        double[] out = new double[n];
        MemorySegment.copy(hostStaging, JAVA_DOUBLE, 0, out, 0, n);
        return out;
    }

    private interface NcclCall { int invoke() throws Throwable; }

    /** One NCCL call under the read lock (abort takes the write lock, so it never frees the communicator mid-call). */
    private void call(String what, NcclCall c) {
        throwIfFailed();
        callLock.readLock().lock();
        try {
            if (ended.get()) throw new GpuException("nccl: rank " + rank + " of " + size + ": the communicator was " + (asyncError != null ? "aborted: " + asyncError : "aborted or closed"));
            nccl.check(c.invoke(), what + " (rank " + rank + " of " + size + ")", comm);
        } catch (GpuException e) {
            throw e;
        } catch (Throwable t) {
            throw new GpuException("nccl: " + what + ": " + t, t);
        } finally {
            callLock.readLock().unlock();
        }
    }

    private void throwIfFailed() {
        String e = asyncError;
        if (e != null) throw new GpuException("nccl: rank " + rank + " of " + size + ": " + e);
    }

    /** Polls NCCL's asynchronous error every 200 ms; on one, records it and aborts (unblocking this rank). */
    private void watch() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment r = a.allocate(JAVA_INT);
            while (!ended.get()) {
                int err;
                callLock.readLock().lock();
                try {
                    if (ended.get()) return;
                    int st = (int) nccl.commGetAsyncError.invokeExact(comm, r);
                    err = st != Nccl.SUCCESS ? st : r.get(JAVA_INT, 0);
                } finally {
                    callLock.readLock().unlock();
                }
                if (err != Nccl.SUCCESS && err != Nccl.IN_PROGRESS) {
                    asyncError = "asynchronous NCCL error " + nccl.describe(err, MemorySegment.NULL)
                            + " (a peer rank failed or the network between the ranks did); the communicator was aborted";
                    abort();
                    return;
                }
                Thread.sleep(200);
            }
        } catch (InterruptedException ignored) {
            // closing
        } catch (Throwable t) {
            asyncError = "the NCCL watchdog failed: " + t;
        }
    }

    /**
     * Aborts the communicator (NCCL stops its kernels in flight, so a rank blocked on the stream returns); safe from
     * any thread. Waits up to 5 s for an NCCL call in progress on the owner's thread to return first.
     */
    @Override public void abort() {
        boolean locked = false;
        try {
            locked = callLock.writeLock().tryLock(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            if (!ended.compareAndSet(false, true)) return;
            if (asyncError == null) asyncError = "aborted because another rank failed";
            int ignored = (int) nccl.commAbort.invokeExact(comm);
        } catch (Throwable t) {
            // aborting: nothing more to do
        } finally {
            if (locked) callLock.writeLock().unlock();
        }
    }

    /** Finalizes and destroys the communicator (after the queued collectives finish); a no-op after {@link #abort}. */
    @Override public void close() {
        callLock.writeLock().lock();
        try {
            if (!ended.compareAndSet(false, true)) return;
            be.makeCurrent();
            if (nccl.commFinalize != null) nccl.check((int) nccl.commFinalize.invokeExact(comm), "ncclCommFinalize", comm);
            nccl.check((int) nccl.commDestroy.invokeExact(comm), "ncclCommDestroy", comm);
        } catch (GpuException e) {
            throw e;
        } catch (Throwable t) {
            throw new GpuException("nccl: closing: " + t, t);
        } finally {
            callLock.writeLock().unlock();
            watchdog.interrupt();
            if (bucket != null) { be.free(bucket); bucket = null; }
            if (hostSums != null) { be.free(hostSums); hostSums = null; }
        }
    }

    @Override public String toString() { return "NCCL " + nccl.version() + ", rank " + rank + " of " + size + " on cuda:" + be.ordinal(); }
}
