package brt4j.eval;

import brt4j.autograd.Graph;
import brt4j.data.DocumentStreams;
import brt4j.data.Split;
import brt4j.data.TokenSource;
import brt4j.model.BrtModel;
import brt4j.model.Memory;
import brt4j.model.SegmentResult;

import java.util.Arrays;
import java.util.function.LongConsumer;

/**
 * Evaluates a model on held-out documents exactly as it is trained on them: B streams, segments of N tokens, the XL
 * cache and the state carried from segment to segment and reset at each document start, no dropout. Bits per byte
 * is bits per token times the corpus's tokens per UTF-8 byte (over the documents evaluated), the usual conversion.
 */
public final class Evaluator {
    private Evaluator() {}

    /**
     * @param maxSegments stop after this many segments of B rows (0: every document to its end)
     * @param bucket      width of the position buckets (the window W is a natural choice)
     */
    public static EvalResult evaluate(BrtModel model, TokenSource src, int[] docs, int batch, int maxSegments, int bucket) {
        return evaluate(model, src, docs, batch, maxSegments, bucket, null);
    }

    /** As above, telling {@code counted} (may be null) the tokens scored so far after every segment: the progress. */
    public static EvalResult evaluate(BrtModel model, TokenSource src, int[] docs, int batch, int maxSegments, int bucket,
                                      LongConsumer counted) {
        if (docs.length == 0) throw new IllegalArgumentException("no held-out documents to evaluate on");
        if (Split.predictable(src, docs) == 0) {
            throw new IllegalArgumentException("nothing to evaluate: every held-out document (" + docs.length
                    + ") is a single token, and a token is predicted only from the same document");
        }
        if (bucket <= 0) throw new IllegalArgumentException("bucket must be positive, got " + bucket);
        int n = model.config().segment();
        DocumentStreams streams = DocumentStreams.onePass(src, docs, Math.min(batch, docs.length), n);
        Memory memory = Memory.empty(model.config(), model.backend(), streams.rows());
        double nats = 0;
        long count = 0;
        double[] bSum = new double[16];
        long[] bCount = new long[16];
        java.util.Set<Integer> seen = new java.util.HashSet<>();
        long seenTokens = 0, seenBytes = 0;
        int segments = 0;
        while (!streams.exhausted() && (maxSegments <= 0 || segments < maxSegments)) {
            DocumentStreams.Segment seg = streams.next();
            SegmentResult r;
            try (Graph g = new Graph(model.backend(), false, 0)) {
                r = model.forward(g, seg.batch(), memory, false);
            }
            memory.free(model.backend());
            memory = r.memory();
            double[] rowLoss = r.rowLoss();
            boolean[] mask = seg.batch().lossMask(model.config().vocabSize());
            for (int row = 0; row < streams.rows(); row++) {
                int d = seg.doc()[row];
                if (d < 0) continue;
                if (seen.add(d)) { seenTokens += src.length(d); seenBytes += src.bytes(d); }
                for (int i = 0; i < n; i++) {
                    int at = row * n + i;
                    if (!mask[at]) continue;
                    long pos = seg.offset()[row] + i + 1;          // position in the document of the target
                    int k = (int) (pos / bucket);
                    if (k >= bSum.length) {
                        int len = Math.max(k + 1, bSum.length * 2);
                        bSum = Arrays.copyOf(bSum, len);
                        bCount = Arrays.copyOf(bCount, len);
                    }
                    bSum[k] += rowLoss[at];
                    bCount[k]++;
                    nats += rowLoss[at];
                    count++;
                }
            }
            segments++;
            if (counted != null) counted.accept(count);
        }
        int last = bCount.length;
        while (last > 0 && bCount[last - 1] == 0) last--;
        double[] bits = new double[last];
        for (int k = 0; k < last; k++) bits[k] = bCount[k] == 0 ? Double.NaN : bSum[k] / bCount[k] * SegmentResult.BITS_PER_NAT;
        double bpt = count == 0 ? Double.NaN : nats / count * SegmentResult.BITS_PER_NAT;
        double bpb = seenBytes == 0 ? Double.NaN : bpt * seenTokens / seenBytes;
        return new EvalResult(bpt, bpb, count, seen.size(), bucket, bits, Arrays.copyOf(bCount, last));
    }
}
