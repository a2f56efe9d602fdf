package brt4j.model;

import brt4j.backend.Backend;
import brt4j.tensor.Tensor;

/**
 * What a batch carries from one segment to the next (spec §1.8): per layer the XL cache (the last block's
 * L2-normalized keys and its values, [B, W, HD]) and per recurrent layer the state [B, S, d]. These are stored,
 * not differentiated: truncated backpropagation stops here. A fresh Memory holds zeros, which the first segment
 * never reads because its rows all start a document.
 */
public final class Memory {
    final Tensor[] keys, values;
    final Tensor[] states;     // indexed by layer; null for a layer that is not recurrent

    private Memory(Tensor[] keys, Tensor[] values, Tensor[] states) {
        this.keys = keys;
        this.values = values;
        this.states = states;
    }

    public static Memory empty(ModelConfig c, Backend be, int batch) {
        Tensor[] k = new Tensor[c.nLayers()], v = new Tensor[c.nLayers()], s = new Tensor[c.nLayers()];
        for (int i = 0; i < c.nLayers(); i++) {
            k[i] = be.zeros(batch, c.window(), c.hd());
            v[i] = be.zeros(batch, c.window(), c.hd());
            if (c.isRecurrent(i)) s[i] = be.zeros(batch, c.nStates(), c.dModel());
        }
        return new Memory(k, v, s);
    }

    static Memory of(Tensor[] keys, Tensor[] values, Tensor[] states) { return new Memory(keys, values, states); }

    public int batch() { return keys[0].dim(0); }

    /**
     * Gives the device memory back now instead of at the next garbage collection (a no-op on the CPU). For the
     * memory a segment started from, once that segment's backward is done: the next segment's memory is a copy.
     */
    public void free(Backend be) {
        for (Tensor[] ts : new Tensor[][]{keys, values, states}) for (Tensor t : ts) if (t != null) be.free(t);
    }

    /** XL cache keys of layer i, [B, W, HD]. */
    public Tensor keys(int layer) { return keys[layer]; }

    public Tensor values(int layer) { return values[layer]; }

    /** State of recurrent layer i, [B, S, d]; null for other layers. */
    public Tensor state(int layer) { return states[layer]; }
}
