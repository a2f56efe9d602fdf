package brt4j.eval;

import brt4j.autograd.Graph;
import brt4j.data.SyntheticRecall;
import brt4j.model.Batch;
import brt4j.model.BrtModel;
import brt4j.model.Memory;
import brt4j.model.ModelConfig;
import brt4j.model.SegmentResult;

import java.util.List;

/**
 * Scores a model on {@link SyntheticRecall} documents: bits per token on the answers to far queries (the fact lies
 * beyond every attention window), on the answers to near queries (inside the window), and over all tokens. Each
 * document is one segment, so every document starts a fresh state.
 */
public final class RecallDemo {
    private RecallDemo() {}

    public record Score(double farBits, double nearBits, double allBits, long farCount, long nearCount) {}

    public static Score score(BrtModel model, List<SyntheticRecall.Doc> docs, int batch) {
        ModelConfig c = model.config();
        int n = c.segment();
        double far = 0, near = 0, all = 0;
        long nf = 0, nn = 0, na = 0;
        for (int at = 0; at < docs.size(); at += batch) {
            int rows = Math.min(batch, docs.size() - at);
            int[][] tokens = new int[rows][n];
            boolean[] start = new boolean[rows];
            for (int r = 0; r < rows; r++) {
                int[] t = docs.get(at + r).tokens();
                System.arraycopy(t, 0, tokens[r], 0, Math.min(n, t.length));
                start[r] = true;
            }
            SegmentResult res;
            try (Graph g = new Graph(model.backend(), false, 0)) {
                res = model.forward(g, new Batch(tokens, start), Memory.empty(c, model.backend(), rows), false);
            }
            double[] loss = res.rowLoss();
            all += res.lossSum();
            na += res.tokenCount();
            for (int r = 0; r < rows; r++) {
                SyntheticRecall.Doc d = docs.get(at + r);
                for (int p : d.farAnswers()) if (p < n) { far += loss[r * n + p - 1]; nf++; }
                for (int p : d.nearAnswers()) if (p < n) { near += loss[r * n + p - 1]; nn++; }
            }
        }
        double k = SegmentResult.BITS_PER_NAT;
        return new Score(far / nf * k, near / nn * k, all / na * k, nf, nn);
    }
}
