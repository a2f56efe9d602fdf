package brt4j.cli;

import brt4j.gpu.cuda.CudaBackend;
import brt4j.gpu.cuda.Nccl;
import brt4j.gpu.cuda.NcclCommunicator;
import brt4j.train.Communicator;
import brt4j.train.DataParallel;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.function.BiFunction;

/**
 * {@code --gpus N [--nodes M --node-rank K --rendezvous host:port]}: one training replica per local CUDA GPU, each
 * on its own thread, joined through NCCL. On one host the ranks share a unique id made here; across hosts every
 * process names rank 0's host and a free port, and NCCL's TCP bootstrap (NCCL_COMM_ID) joins them. Global rank =
 * node rank * N + local GPU; world = M * N.
 */
final class GpuReplicas {
    final int gpus, nodes, nodeRank;
    final String rendezvous;
    private final int firstDevice;

    /** Checks the options (before any work); {@code gpus} null: not a data-parallel run, and then the others must be unset. */
    static GpuReplicas of(Integer gpus, Integer nodes, Integer nodeRank, String rendezvous, String device) {
        if (gpus == null) {
            if (nodes != null || nodeRank != null || rendezvous != null) {
                throw new IllegalArgumentException("--nodes, --node-rank and --rendezvous need --gpus (GPUs per host)");
            }
            return null;
        }
        return new GpuReplicas(gpus, nodes == null ? 1 : nodes, nodeRank == null ? 0 : nodeRank, rendezvous, device);
    }

    private GpuReplicas(int gpus, int nodes, int nodeRank, String rendezvous, String device) {
        if (gpus < 1) throw new IllegalArgumentException("--gpus must be at least 1, got " + gpus);
        if (nodes < 1) throw new IllegalArgumentException("--nodes must be at least 1, got " + nodes);
        if (nodeRank < 0 || nodeRank >= nodes) throw new IllegalArgumentException("--node-rank must be in 0.." + (nodes - 1) + ", got " + nodeRank);
        if (nodes > 1 && rendezvous == null) {
            throw new IllegalArgumentException("--nodes " + nodes + " needs --rendezvous host:port (node 0's address and a free port, the same on every node)");
        }
        String d = device == null ? "auto" : device.trim().toLowerCase(Locale.ROOT);
        if (!d.equals("auto") && !d.equals("cuda") && !d.startsWith("cuda:")) {
            throw new IllegalArgumentException("--gpus runs one replica per CUDA GPU through NCCL; --device " + device + " is not CUDA");
        }
        int first = 0;
        if (d.startsWith("cuda:")) {
            if (gpus > 1) throw new IllegalArgumentException("--device " + device + " picks one GPU; with --gpus " + gpus + " the replicas use cuda:0 .. cuda:" + (gpus - 1));
            try {
                first = Integer.parseInt(d.substring(5));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--device " + device + ": the device number after ':' must be an integer");
            }
        }
        this.gpus = gpus;
        this.nodes = nodes;
        this.nodeRank = nodeRank;
        this.rendezvous = rendezvous;
        this.firstDevice = first;
    }

    int world() { return gpus * nodes; }

    /** Opens this host's GPUs (all of them before any rank starts, so a missing one fails before NCCL waits for it). */
    CudaBackend[] open(String precision, PrintStream log) {
        int have = CudaBackend.deviceCount();
        if (firstDevice + gpus > have) {
            throw new IllegalArgumentException("--gpus " + gpus + ": " + have + " CUDA device(s) here" + (firstDevice > 0 ? " (from cuda:" + firstDevice + ")" : ""));
        }
        Nccl nccl = Nccl.get();   // a clear error listing where it looked when NCCL is absent
        CudaBackend[] b = new CudaBackend[gpus];
        for (int i = 0; i < gpus; i++) b[i] = new CudaBackend(firstDevice + i, brt4j.gpu.Devices.precision(precision));
        log.printf("data parallel: NCCL %s, %d replica(s) on this host (ranks %d..%d of %d), %s%n", nccl.version(), gpus,
                nodeRank * gpus, nodeRank * gpus + gpus - 1, world(), b[0].describe());
        return b;
    }

    /** Runs {@code train(localRank, communicator)} on one thread per local GPU; results in local-rank order. */
    <T> List<T> run(CudaBackend[] backends, BiFunction<Integer, Communicator, T> train) {
        byte[] id = rendezvous != null ? NcclCommunicator.rendezvous(rendezvous) : NcclCommunicator.uniqueId();
        return DataParallel.run(gpus, r -> NcclCommunicator.connect(backends[r], id, nodeRank * gpus + r, world()), train);
    }
}
