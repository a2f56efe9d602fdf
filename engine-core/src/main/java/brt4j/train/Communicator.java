package brt4j.train;

import brt4j.tensor.Tensor;

import java.util.List;

/**
 * What the replicas of a data-parallel run do together (one replica per GPU, each with its share of the batch): sum
 * gradients, copy rank 0's parameters to everyone, sum a few host numbers (token counts, the loss, the stop flag).
 * The product's implementation is NCCL's ({@code brt4j.gpu.cuda.NcclCommunicator}); {@link #SOLO} is the run of one
 * replica, where every operation is the identity.
 *
 * <p>Every replica must call the same operations in the same order with tensors of the same shapes; a replica that
 * stops calling leaves the others blocked until {@link #abort} (which {@link DataParallel} calls when a rank fails).
 */
public interface Communicator extends AutoCloseable {
    /** This replica's number, 0 .. size-1; rank 0 writes checkpoints and metrics. */
    int rank();

    /** Replicas in the run. */
    int size();

    /** Replaces each tensor by its sum over the replicas, in place; every replica ends with the same values. */
    void allReduceSum(List<Tensor> tensors);

    /** Replaces each tensor by root's. */
    void broadcast(List<Tensor> tensors, int root);

    /** The sums over the replicas of a few host values (each replica gets every sum). */
    double[] allReduceSum(double[] values);

    /** Stops the collectives in flight, from any thread, so that replicas blocked in one return with an error. */
    void abort();

    @Override void close();

    /** One replica: every sum is the value itself, nothing is copied. */
    Communicator SOLO = new Communicator() {
        @Override public int rank() { return 0; }
        @Override public int size() { return 1; }
        @Override public void allReduceSum(List<Tensor> tensors) {}
        @Override public void broadcast(List<Tensor> tensors, int root) {}
        @Override public double[] allReduceSum(double[] values) { return values.clone(); }
        @Override public void abort() {}
        @Override public void close() {}
        @Override public String toString() { return "one replica"; }
    };
}
