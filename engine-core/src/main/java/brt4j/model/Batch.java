package brt4j.model;

import java.util.Arrays;

/**
 * One segment of B rows of N token ids, with each row's start-of-document flag. Token ids are taken mod V
 * (design.md). The loss targets are the tokens shifted left by one, padded with 0; a position counts iff its input
 * and its target are both nonzero (spec §1.10), so the last position of a segment never counts.
 */
public record Batch(int[][] tokens, boolean[] start) {
    public Batch {
        if (tokens.length == 0 || tokens.length != start.length) {
            throw new IllegalArgumentException("batch: " + tokens.length + " token rows and " + start.length + " start flags");
        }
        for (int[] row : tokens) {
            if (row.length != tokens[0].length) throw new IllegalArgumentException("batch: rows of different lengths " + row.length + " and " + tokens[0].length);
        }
    }

    public int rows() { return tokens.length; }

    public int length() { return tokens[0].length; }

    /** All ids mod V, row-major [B*N]. */
    public int[] flatIds(int vocab) {
        int n = length();
        int[] ids = new int[rows() * n];
        for (int b = 0; b < rows(); b++) for (int i = 0; i < n; i++) ids[b * n + i] = Math.floorMod(tokens[b][i], vocab);
        return ids;
    }

    /** Targets [B*N]: the next id mod V, 0 after the last position. */
    public int[] targets(int vocab) {
        int n = length();
        int[] t = new int[rows() * n];
        for (int b = 0; b < rows(); b++) for (int i = 0; i + 1 < n; i++) t[b * n + i] = Math.floorMod(tokens[b][i + 1], vocab);
        return t;
    }

    /** The loss mask [B*N]. */
    public boolean[] lossMask(int vocab) {
        int[] ids = flatIds(vocab), t = targets(vocab);
        boolean[] m = new boolean[ids.length];
        for (int i = 0; i < m.length; i++) m[i] = ids[i] != 0 && t[i] != 0;
        return m;
    }

    /** Positions the loss counts (the mask's true entries). */
    public int lossCount(int vocab) {
        int count = 0;
        for (boolean m : lossMask(vocab)) if (m) count++;
        return count;
    }

    @Override public String toString() { return "Batch[" + rows() + "x" + length() + ", start=" + Arrays.toString(start) + "]"; }
}
