package brt4j.bench.tokenizer;

import brt4j.tokenizer.LineStreamTokenizer;
import brt4j.tokenizer.SentencePieceTokenizer;

import java.io.ByteArrayInputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Encode throughput of our tokenizer, measured the way spm_encode works: a text file in, one line of ids out per
 * line in (written to a discarding stream). The file is read into memory first so disk speed does not count.
 * Prints one line per repeat and the median, for 1 thread and for N threads.
 *
 * <p>Usage: {@code TokenizerBench MODEL INPUT REPEATS THREADS [OUTPUT_IDS]}; with OUTPUT_IDS the ids of one
 * single-thread run are also written there, so the script can check them against spm_encode's.
 */
public final class TokenizerBench {
    public static void main(String[] args) throws Exception {
        if (args.length < 4) {
            System.err.println("usage: TokenizerBench MODEL INPUT REPEATS THREADS [OUTPUT_IDS]");
            System.exit(2);
        }
        SentencePieceTokenizer tokenizer = SentencePieceTokenizer.load(Path.of(args[0]));
        byte[] input = Files.readAllBytes(Path.of(args[1]));
        int repeats = Integer.parseInt(args[2]), threads = Integer.parseInt(args[3]);
        if (args.length > 4) {
            try (OutputStream out = Files.newOutputStream(Path.of(args[4]));
                 LineStreamTokenizer stream = new LineStreamTokenizer(tokenizer, 1)) {
                stream.encode(new ByteArrayInputStream(input), new java.io.BufferedOutputStream(out, 1 << 16), LineStreamTokenizer.Format.IDS);
            }
        }
        double mb = input.length / 1e6;
        double[] seconds = new double[repeats];
        try (LineStreamTokenizer stream = new LineStreamTokenizer(tokenizer, threads)) {
            for (int r = 0; r < repeats; r++) {
                long start = System.nanoTime();
                stream.encode(new ByteArrayInputStream(input), OutputStream.nullOutputStream(), LineStreamTokenizer.Format.IDS);
                seconds[r] = (System.nanoTime() - start) / 1e9;
                System.out.printf("run %d: %.2f s, %.2f MB/s%n", r + 1, seconds[r], mb / seconds[r]);
            }
        }
        double[] sorted = seconds.clone();
        Arrays.sort(sorted);
        double median = sorted[repeats / 2];
        System.out.printf("median %.3f s %.2f MB/s threads=%d%n", median, mb / median, threads);
    }
}
