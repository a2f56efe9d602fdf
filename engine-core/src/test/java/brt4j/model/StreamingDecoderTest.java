package brt4j.model;

import brt4j.backend.Backend;
import brt4j.backend.cpu.CpuBackend;
import brt4j.backend.ref.ReferenceBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Generation equals training: the logits of a sequence fed to the decoder token by token (or in random chunks)
 * equal those of the training forward over consecutive segments, for every family, over many blocks.
 */
class StreamingDecoderTest {
    static final int W = 4, N = 8, SEGMENTS = 4, B = 2;

    /** Training-forward logits over SEGMENTS consecutive segments of one document per row, [B, total, V]. */
    static double[] trainingLogits(BrtModel m, int[][] tok) {
        ModelConfig c = m.config();
        int total = tok[0].length, v = c.vocabSize();
        double[] all = new double[B * total * v];
        Memory mem = Memory.empty(c, m.backend(), B);
        int n = c.segment();
        for (int s = 0; s * n < total; s++) {
            int[][] seg = new int[B][];
            for (int r = 0; r < B; r++) seg[r] = Arrays.copyOfRange(tok[r], s * n, (s + 1) * n);
            SegmentResult res = Tiny.run(m, new Batch(seg, Tiny.flags(s == 0, s == 0)), mem, false);
            double[] l = Tiny.logits(m, res);
            for (int r = 0; r < B; r++) System.arraycopy(l, r * n * v, all, (r * total + s * n) * v, n * v);
            mem = res.memory();
        }
        return all;
    }

    static double[] decoderLogits(BrtModel m, int[][] tok, long chunkSeed) {
        int total = tok[0].length, v = m.config().vocabSize();
        double[] all = new double[B * total * v];
        Random r = new Random(chunkSeed);
        try (StreamingDecoder d = new StreamingDecoder(m, B)) {
            int at = 0;
            while (at < total) {
                int len = chunkSeed == 0 ? 1 : Math.min(total - at, 1 + r.nextInt(2 * W));
                int[][] chunk = new int[B][];
                for (int row = 0; row < B; row++) chunk[row] = Arrays.copyOfRange(tok[row], at, at + len);
                float[] l = d.feed(chunk);
                for (int row = 0; row < B; row++) {
                    for (int i = 0; i < len * v; i++) all[(row * total + at) * v + i] = l[row * len * v + i];
                }
                at += len;
            }
        }
        return all;
    }

    static void check(String family, Backend be, double tol) {
        ModelConfig c = Tiny.config(family, W, N);
        BrtModel m = Tiny.model(c, be, 21);
        int[][] tok = Tiny.tokens(B, N * SEGMENTS, 22);
        double[] expected = trainingLogits(m, tok);
        for (long chunking : new long[]{0, 1, 2}) {
            double[] got = decoderLogits(m, tok, chunking);
            double maxDiff = 0, scale = 0;
            for (int i = 0; i < got.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
                scale = Math.max(scale, Math.abs(expected[i]));
            }
            assertTrue(maxDiff <= tol * Math.max(1, scale), family + " on " + be.name() + " (chunking " + chunking + "): max diff " + maxDiff);
        }
    }

    /** feedForNext (what generation calls) gives the last token's logits of feed, chunks crossing block boundaries. */
    @ParameterizedTest
    @CsvSource({"Rec:fixed:skip", "Feedback:lstm:dual", "XL"})
    void feedForNextGivesTheLastLogitsOfFeed(String family) {
        BrtModel m = Tiny.model(Tiny.config(family, W, N), 31);   // the float64 oracle: same sums whatever the rows
        int[][] tok = Tiny.tokens(B, 3 * N, 32);
        int v = m.config().vocabSize();
        try (StreamingDecoder all = new StreamingDecoder(m, B); StreamingDecoder next = new StreamingDecoder(m, B)) {
            int at = 0;
            for (int len : new int[]{1, 3, 6, 1, 9, 2, 2}) {
                int[][] chunk = new int[B][];
                for (int row = 0; row < B; row++) chunk[row] = Arrays.copyOfRange(tok[row], at, at + len);
                float[] full = all.feed(chunk), last = next.feedForNext(chunk);
                for (int row = 0; row < B; row++) {
                    float[] expected = Arrays.copyOfRange(full, (row * len + len - 1) * v, (row * len + len) * v);
                    assertArrayEquals(expected, Arrays.copyOfRange(last, row * v, (row + 1) * v), family + " at " + at + "+" + len);
                }
                at += len;
            }
        }
        try (StreamingDecoder d = new StreamingDecoder(m, B)) {
            assertThrows(IllegalArgumentException.class, () -> d.feedForNext(new int[B][0]));
            assertThrows(IllegalArgumentException.class, () -> d.feed(new int[][]{{1, 2}, {3}}));
        }
    }

    /** A long prompt's progress: the same logits as without it, and a count after every piece, block by block. */
    @Test
    void feedForNextReportsTheTokensFedAfterEachBlock() {
        BrtModel m = Tiny.model(Tiny.config("Rec:fixed:skip", W, N), 31);
        int[][] tok = Tiny.tokens(B, 3 * W + 2, 33);
        int[][] first = new int[B][], rest = new int[B][];
        for (int r = 0; r < B; r++) { first[r] = Arrays.copyOf(tok[r], 1); rest[r] = Arrays.copyOfRange(tok[r], 1, tok[r].length); }
        try (StreamingDecoder plain = new StreamingDecoder(m, B); StreamingDecoder told = new StreamingDecoder(m, B)) {
            plain.feedForNext(first);
            told.feedForNext(first);
            List<Integer> counts = new ArrayList<>();
            float[] expected = plain.feedForNext(rest), actual = told.feedForNext(rest, counts::add);
            assertArrayEquals(expected, actual);
            // offset 1 in the first block: W - 1 tokens finish it, then whole blocks, then the two left over
            assertEquals(List.of(W - 1, 2 * W - 1, 3 * W - 1, 3 * W + 1), counts);
        }
    }

    @ParameterizedTest
    @CsvSource({"Rec:fixed:skip", "Rec:lstm:dual", "Rec:fixed:single", "Feedback:fixed:skip", "Feedback:lstm:dual", "Slide", "XL"})
    void referenceDecoderEqualsTrainingForward(String family) {
        // float64 throughout; the decoder hands its logits out as float32, hence float32 output rounding.
        check(family, new ReferenceBackend(), 3e-7);
    }

    @ParameterizedTest
    @CsvSource({"Rec:fixed:skip", "Rec:lstm:dual", "Feedback:fixed:skip", "Slide", "XL"})
    void cpuDecoderEqualsTrainingForwardToFloatRounding(String family) {
        check(family, new CpuBackend(1), 2e-5);
    }
}
