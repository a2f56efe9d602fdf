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

/** {@code brt tokenizer decode}: one line of ids or pieces in, one line of text out, like spm_decode. */
@Command(name = "decode", mixinStandardHelpOptions = true,
        description = "Decode lines of space-separated ids or pieces back to text (as spm_decode).")
public final class TokenizerDecodeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "A SentencePiece .model file.")
    Path model;

    @Option(names = "--input-format", defaultValue = "id", description = "id or piece (default: ${DEFAULT-VALUE}).")
    String inputFormat;

    @Option(names = "--threads", description = "Threads to decode with (default: all cores).")
    Integer threads;

    @Parameters(arity = "0..*", paramLabel = "FILE", description = "Input files (default: standard input).")
    List<Path> inputs;

    @Override
    public Integer call() throws Exception {
        LineStreamTokenizer.Format format = switch (inputFormat) {
            case "id" -> LineStreamTokenizer.Format.IDS;
            case "piece" -> LineStreamTokenizer.Format.PIECES;
            default -> throw new IllegalArgumentException("--input-format must be id or piece, not '" + inputFormat + "'.");
        };
        SentencePieceTokenizer tokenizer = SentencePieceTokenizer.load(model);
        try (InputStream in = TokenizerIo.open(inputs);
             OutputStream out = new BufferedOutputStream(System.out, 1 << 16);
             LineStreamTokenizer stream = new LineStreamTokenizer(tokenizer, threads != null ? threads : TokenizerIo.defaultThreads())) {
            stream.decode(in, out, format);
        }
        return 0;
    }
}
