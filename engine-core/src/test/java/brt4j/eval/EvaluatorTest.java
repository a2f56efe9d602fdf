package brt4j.eval;

import brt4j.autograd.Graph;
import brt4j.backend.Backend;
import brt4j.backend.cpu.CpuBackend;
import brt4j.data.InMemoryTokens;
import brt4j.data.TokenSource;
import brt4j.model.Batch;
import brt4j.model.BrtModel;
import brt4j.model.Memory;
import brt4j.model.ModelConfig;
import brt4j.model.Parameters;
import brt4j.model.SegmentResult;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class EvaluatorTest {
    static ModelConfig config() {
        return new ModelConfig(20, 16, 2, 2, 8, 32, 4, 8, 4, new int[]{1}, ModelConfig.Gate.FIXED, ModelConfig.StateFfn.SKIP,
                false, true, ModelConfig.LogitScale.INV_SQRT_VOCAB, 32, 128, 1e-6, 0, 0);
    }

    /** The progress callback: after every segment, the tokens scored so far, ending at the result's count. */
    @Test void progressCountsTheTokensScoredAfterEachSegment() {
        Backend be = new CpuBackend(1);
        BrtModel m = new BrtModel(Parameters.initialize(config(), be, 4));
        TokenSource src = new InMemoryTokens(List.of(new int[]{3, 5, 7, 9, 11, 13, 2, 4, 6, 8, 10, 12, 14, 16, 18, 1, 3},
                new int[]{19, 18, 17, 16, 15}));
        List<Long> counts = new java.util.ArrayList<>();
        EvalResult r = Evaluator.evaluate(m, src, new int[]{0, 1}, 2, 0, 4, counts::add);
        assertEquals(3, counts.size(), "document a takes three segments of 8, b runs beside it");
        for (int i = 1; i < counts.size(); i++) assertTrue(counts.get(i) >= counts.get(i - 1), counts.toString());
        assertEquals(List.of(11L, 18L, 18L), counts, "a's last segment holds one token: nothing left to score");
        assertEquals(r.tokens(), counts.get(counts.size() - 1));
        assertEquals(r.bitsPerToken(), Evaluator.evaluate(m, src, new int[]{0, 1}, 2, 0, 4).bitsPerToken(), 0, "same work");
    }

    /** One-token documents have no target: an error, not bits per token of 0 / 0. */
    @Test void heldOutDocumentsOfOneTokenAreAnError() {
        Backend be = new CpuBackend(1);
        BrtModel m = new BrtModel(Parameters.initialize(config(), be, 4));
        TokenSource src = new InMemoryTokens(List.of(new int[]{3}, new int[]{5}));
        var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> Evaluator.evaluate(m, src, new int[]{0, 1}, 2, 0, 4));
        assertEquals("nothing to evaluate: every held-out document (2) is a single token, and a token is predicted only"
                + " from the same document", e.getMessage());
    }

    @Test void streamingEvaluationEqualsRunningEachDocumentSegmentBySegment() {
        Backend be = new CpuBackend(1);
        BrtModel m = new BrtModel(Parameters.initialize(config(), be, 4));
        int[] a = {3, 5, 7, 9, 11, 13, 2, 4, 6, 8, 10, 12, 14, 16, 18, 1, 3}, b = {19, 18, 17, 16, 15};
        TokenSource src = new InMemoryTokens(List.of(a, b));
        EvalResult r = Evaluator.evaluate(m, src, new int[]{0, 1}, 2, 0, 4);
        // By hand: document a alone, three segments with its memory carried; b alone, one segment.
        double nats = 0;
        long count = 0;
        double[] bucket = new double[5];
        long[] bc = new long[5];
        for (int[] doc : List.of(a, b)) {
            Memory mem = Memory.empty(m.config(), be, 1);
            for (int off = 0; off < doc.length; off += 8) {
                int[][] t = new int[1][8];
                System.arraycopy(doc, off, t[0], 0, Math.min(8, doc.length - off));
                SegmentResult s;
                try (Graph g = new Graph(be, false, 0)) { s = m.forward(g, new Batch(t, new boolean[]{off == 0}), mem, false); }
                mem = s.memory();
                boolean[] mask = new Batch(t, new boolean[]{false}).lossMask(20);
                for (int i = 0; i < 8; i++) if (mask[i]) { bucket[(off + i + 1) / 4] += s.rowLoss()[i]; bc[(off + i + 1) / 4]++; }
                nats += s.lossSum();
                count += s.tokenCount();
            }
        }
        assertEquals(count, r.tokens());
        assertEquals(nats / count * SegmentResult.BITS_PER_NAT, r.bitsPerToken(), 1e-9);
        assertEquals(r.bitsPerToken(), r.bitsPerByte(), 1e-12, "in-memory tokens count one byte each");
        for (int k = 0; k < 5; k++) {
            assertEquals(bc[k], k < r.bucketTokens().length ? r.bucketTokens()[k] : 0, "bucket " + k);
            if (bc[k] > 0) assertEquals(bucket[k] / bc[k] * SegmentResult.BITS_PER_NAT, r.bucketBits()[k], 1e-9);
        }
        assertTrue(r.bucketTable().contains("[4, 8)"));
        assertEquals(2, r.documents());
    }
}
