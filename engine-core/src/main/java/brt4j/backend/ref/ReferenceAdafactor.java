package brt4j.backend.ref;

import brt4j.backend.AdafactorSpec;

/**
 * flax.optim.Adafactor's update for one parameter, in plain loops (spec §2.3). Factored second moments keep a mean
 * of g^2 + eps1 per row (vRow) and per column (vCol); the one along the smaller dimension (rows on a tie) is
 * divided by its own mean, as flax divides the accumulator of the second-largest dimension.
 */
final class ReferenceAdafactor {
    private ReferenceAdafactor() {}

    static void update(double[] p, int rows, int cols, double[] g, double[] m, double[] v, double[] vRow, double[] vCol,
                       double lr, long step, AdafactorSpec s) {
        int n = p.length;
        double decay = 1 - Math.pow(step + 1, -s.decayExponent());
        double mix = 1 - decay;
        double scale = lr;
        if (s.multiplyByParameterScale()) {
            double ss = 0;
            for (double x : p) ss += x * x;
            scale *= Math.max(Math.sqrt(ss / n), s.epsilon2());
        }
        double[] y = new double[n];
        if (vRow != null) {
            for (int r = 0; r < rows; r++) {
                double mean = 0;
                for (int c = 0; c < cols; c++) mean += g[r * cols + c] * g[r * cols + c] + s.epsilon1();
                vRow[r] = decay * vRow[r] + mix * mean / cols;
            }
            for (int c = 0; c < cols; c++) {
                double mean = 0;
                for (int r = 0; r < rows; r++) mean += g[r * cols + c] * g[r * cols + c] + s.epsilon1();
                vCol[c] = decay * vCol[c] + mix * mean / rows;
            }
            double[] normalized = rows <= cols ? vRow : vCol;
            double norm = 0;
            for (double x : normalized) norm += x;
            norm /= normalized.length;
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    y[r * cols + c] = g[r * cols + c] / Math.sqrt(vRow[r] * vCol[c] / norm);
                }
            }
        } else {
            for (int i = 0; i < n; i++) {
                v[i] = decay * v[i] + mix * (g[i] * g[i] + s.epsilon1());
                y[i] = g[i] / Math.sqrt(v[i]);
            }
        }
        double ms = 0;
        for (double x : y) ms += x * x;
        double clip = Math.max(1, Math.sqrt(ms / n) / s.clipThreshold());
        for (int i = 0; i < n; i++) {
            double sub = scale * y[i] / clip;
            if (m != null) {
                m[i] = s.beta1() * m[i] + (1 - s.beta1()) * sub;
                sub = m[i];
            }
            p[i] -= sub;
        }
    }
}
