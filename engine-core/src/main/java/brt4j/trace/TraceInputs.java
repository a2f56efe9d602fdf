package brt4j.trace;

import brt4j.checkpoint.DType;
import brt4j.checkpoint.SafeTensors;
import brt4j.checkpoint.TensorInfo;
import brt4j.model.Batch;
import brt4j.model.ModelConfig;

import java.util.ArrayList;
import java.util.List;

/**
 * The inputs of a trace: {@code seg{s}.tokens} (I32 [B, N]) and {@code seg{s}.start} (I32 [B]) for s = 0, 1, ...
 * Validated against the model before any work: one sentence naming the tensor for a wrong dtype or shape, a token
 * id outside [0, V), a batch size that changes between segments, or a missing start.
 */
public final class TraceInputs {
    private TraceInputs() {}

    public static List<Batch> read(SafeTensors in, ModelConfig c) {
        List<Batch> segments = new ArrayList<>();
        String src = in.file();
        if (!in.contains("seg0.tokens")) throw new IllegalArgumentException(src + ": no tensor seg0.tokens (inputs hold seg{s}.tokens and seg{s}.start)");
        for (int s = 0; in.contains("seg" + s + ".tokens"); s++) {
            String tn = "seg" + s + ".tokens", sn = "seg" + s + ".start";
            TensorInfo ti = in.info(tn);
            if (ti.dtype() != DType.I32 || ti.rank() != 2) {
                throw new IllegalArgumentException(src + ": " + tn + " must be I32 [B, N], got " + ti.dtype() + " " + ti.shapeString());
            }
            int b = (int) ti.dim(0), n = (int) ti.dim(1);
            if (b == 0 || n == 0) throw new IllegalArgumentException(src + ": " + tn + " is empty " + ti.shapeString());
            if (n % c.window() != 0) {
                throw new IllegalArgumentException(src + ": " + tn + " has " + n + " tokens a row, not a multiple of the window " + c.window());
            }
            if (!c.xlCache() && n > c.window()) {
                throw new IllegalArgumentException(src + ": " + tn + " has " + n + " tokens a row; without an XL cache a segment may not exceed the window " + c.window());
            }
            if (!segments.isEmpty() && segments.get(0).rows() != b) {
                throw new IllegalArgumentException(src + ": " + tn + " has batch " + b + ", but seg0.tokens has " + segments.get(0).rows());
            }
            if (!in.contains(sn)) throw new IllegalArgumentException(src + ": missing " + sn + " (I32 [" + b + "], 1 = start of a document)");
            TensorInfo si = in.info(sn);
            if (si.dtype() != DType.I32 || !si.hasShape(b)) {
                throw new IllegalArgumentException(src + ": " + sn + " must be I32 [" + b + "], got " + si.dtype() + " " + si.shapeString());
            }
            int[] flat = in.ints(tn), st = in.ints(sn);
            int[][] tokens = new int[b][n];
            for (int r = 0; r < b; r++) {
                for (int i = 0; i < n; i++) {
                    int id = flat[r * n + i];
                    if (id < 0 || id >= c.vocabSize()) {
                        throw new IllegalArgumentException(src + ": " + tn + "[" + r + ", " + i + "] = " + id
                                + " is outside the vocabulary [0, " + c.vocabSize() + ")");
                    }
                    tokens[r][i] = id;
                }
            }
            boolean[] start = new boolean[b];
            for (int r = 0; r < b; r++) start[r] = st[r] != 0;
            if (s == 0) {
                for (int r = 0; r < b; r++) {
                    if (!start[r]) throw new IllegalArgumentException(src + ": seg0.start[" + r + "] is 0, but the first segment has no earlier one to continue");
                }
            }
            segments.add(new Batch(tokens, start));
        }
        return segments;
    }
}
