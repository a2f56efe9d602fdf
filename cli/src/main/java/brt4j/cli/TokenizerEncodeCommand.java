package brt4j.cli;

import brt4j.tokenizer.LineStreamTokenizer;
import brt4j.tokenizer.SentencePieceTokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.BufferedOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code brt tokenizer encode}: one line of text in, one line of ids or pieces out, like spm_encode. */
@Command(name = "encode", mixinStandardHelpOptions = true,
        description = "Encode text, one line in and one line of space-separated ids or pieces out (as spm_encode).")
public final class TokenizerEncodeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "A SentencePiece .model file.")
    Path model;

    @Option(names = "--output-format", defaultValue = "id", description = "id or piece (default: ${DEFAULT-VALUE}).")
    String outputFormat;

    @Option(names = "--threads", description = "Threads to encode with (default: all cores).")
    Integer threads;

    @Parameters(arity = "0..*", paramLabel = "FILE", description = "Input files (default: standard input).")
    List<Path> inputs;

    @Override
    public Integer call() throws Exception {
        LineStreamTokenizer.Format format = switch (outputFormat) {
            case "id" -> LineStreamTokenizer.Format.IDS;
            case "piece" -> LineStreamTokenizer.Format.PIECES;
            default -> throw new IllegalArgumentException("--output-format must be id or piece, not '" + outputFormat + "'.");
        };
        SentencePieceTokenizer tokenizer = SentencePieceTokenizer.load(model);
        try (InputStream in = TokenizerIo.open(inputs);
             OutputStream out = new BufferedOutputStream(System.out, 1 << 16);
             LineStreamTokenizer stream = new LineStreamTokenizer(tokenizer, threads != null ? threads : TokenizerIo.defaultThreads())) {
            stream.encode(in, out, format);
        }
        return 0;
    }
}
