package brt4j.train;

import brt4j.backend.Backend;
import brt4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Phaser;

/**
 * A TEST DOUBLE of the NCCL communicator for replicas that are threads of one test on the CPU backend: each
 * collective downloads the tensors, the last thread to arrive sums them in rank order on the host, and every
 * replica uploads the result. It exists to test the data-parallel bookkeeping (sharding, loss scaling, checkpoint
 * meaning, failure handling) without a GPU; the product's all-reduce is NCCL's.
 */
final class InProcessCommunicator implements Communicator {
    /** The replicas' meeting point. */
    static final class Group {
        final int size;
        private final Object[] slots;
        private Object result;
        private String kind;
        private int root;
        private final Phaser phaser;

        Group(int size) {
            this.size = size;
            this.slots = new Object[size];
            this.phaser = new Phaser(size) {
                @Override protected boolean onAdvance(int phase, int parties) {
                    combine();
                    return false;
                }
            };
        }

        private void combine() {
            switch (kind) {
                case "floats" -> {
                    float[][] sum = deepCopy((float[][]) slots[0]);
                    for (int r = 1; r < size; r++) {
                        float[][] x = (float[][]) slots[r];
                        for (int t = 0; t < sum.length; t++) for (int i = 0; i < sum[t].length; i++) sum[t][i] += x[t][i];
                    }
                    result = sum;
                }
                case "broadcast" -> result = deepCopy((float[][]) slots[root]);
                case "doubles" -> {
                    double[] sum = ((double[]) slots[0]).clone();
                    for (int r = 1; r < size; r++) {
                        double[] x = (double[]) slots[r];
                        for (int i = 0; i < sum.length; i++) sum[i] += x[i];
                    }
                    result = sum;
                }
                default -> throw new IllegalStateException(kind);
            }
        }

        private static float[][] deepCopy(float[][] a) {
            float[][] c = new float[a.length][];
            for (int i = 0; i < a.length; i++) c[i] = a[i].clone();
            return c;
        }

        /** Deposits this rank's part, waits for every rank, returns the combined result. */
        synchronized void deposit(int rank, String kind, int root, Object part) {
            slots[rank] = part;
            this.kind = kind;
            this.root = root;
        }

        Object meet(int rank, String kind, int root, Object part) {
            deposit(rank, kind, root, part);
            if (phaser.arriveAndAwaitAdvance() < 0) throw new IllegalStateException("rank " + rank + ": the group was aborted");
            synchronized (this) {
                return result;
            }
        }

        void abort() { phaser.forceTermination(); }
    }

    private final Group group;
    private final int rank;
    private final Backend be;

    InProcessCommunicator(Group group, int rank, Backend be) {
        this.group = group;
        this.rank = rank;
        this.be = be;
    }

    @Override public int rank() { return rank; }

    @Override public int size() { return group.size; }

    @Override public void allReduceSum(List<Tensor> tensors) { exchange(tensors, "floats", 0); }

    @Override public void broadcast(List<Tensor> tensors, int root) { exchange(tensors, "broadcast", root); }

    private void exchange(List<Tensor> tensors, String kind, int root) {
        List<float[]> parts = new ArrayList<>();
        for (Tensor t : tensors) parts.add(be.download(t));
        float[][] r = (float[][]) group.meet(rank, kind, root, parts.toArray(new float[0][]));
        for (int i = 0; i < tensors.size(); i++) be.copy(be.upload(r[i], tensors.get(i).shape()), tensors.get(i));
    }

    @Override public double[] allReduceSum(double[] values) {
        return ((double[]) group.meet(rank, "doubles", 0, values.clone())).clone();
    }

    @Override public void abort() { group.abort(); }

    @Override public void close() {}
}
