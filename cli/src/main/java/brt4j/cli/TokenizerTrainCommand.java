package brt4j.cli;

import brt4j.tokenizer.BuiltinNormalization;
import brt4j.tokenizer.ModelProto;
import brt4j.tokenizer.Piece;
import brt4j.tokenizer.ProgressBar;
import brt4j.tokenizer.Trainer;
import brt4j.tokenizer.TrainerSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code brt tokenizer train}: learn a unigram or BPE model and write PREFIX.model and PREFIX.vocab, like spm_train. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train a unigram or BPE model from text files; writes PREFIX.model (loadable by SentencePiece) and PREFIX.vocab.")
public final class TokenizerTrainCommand implements Callable<Integer> {
    @Option(names = "--input", required = true, split = ",", description = "Training text files (comma-separated or repeated).")
    List<Path> inputs;

    @Option(names = "--model-prefix", required = true, description = "Output prefix: writes PREFIX.model and PREFIX.vocab.")
    String modelPrefix;

    @Option(names = "--model-type", defaultValue = "unigram", description = "unigram or bpe (default: ${DEFAULT-VALUE}).")
    String modelType;

    @Option(names = "--vocab-size", defaultValue = "8000", description = "Vocabulary size (default: ${DEFAULT-VALUE}).")
    int vocabSize;

    @Option(names = "--character-coverage", defaultValue = "0.9995",
            description = "Share of characters that get their own piece (default: ${DEFAULT-VALUE}).")
    float characterCoverage;

    @Option(names = "--byte-fallback", description = "Spell unknown characters as UTF-8 byte pieces <0xNN>.")
    boolean byteFallback;

    @Option(names = "--user-defined-symbols", split = ",", description = "Pieces always kept whole (comma-separated).")
    List<String> userDefinedSymbols = new ArrayList<>();

    @Option(names = "--control-symbols", split = ",", description = "Control pieces, e.g. <mask> (comma-separated).")
    List<String> controlSymbols = new ArrayList<>();

    @Option(names = "--normalization-rule-name", defaultValue = "nmt_nfkc",
            description = "nmt_nfkc, nfkc, nmt_nfkc_cf, nfkc_cf or identity (default: ${DEFAULT-VALUE}).")
    String normalization;

    @Option(names = "--split-digits", description = "Put each digit in a piece of its own.")
    boolean splitDigits;

    @Option(names = "--split-by-whitespace", defaultValue = "true", negatable = true, fallbackValue = "true",
            description = "Keep pieces within words (default: ${DEFAULT-VALUE}).")
    boolean splitByWhitespace;

    @Option(names = "--treat-whitespace-as-suffix", description = "Attach U+2581 to the end of words, not the start.")
    boolean whitespaceAsSuffix;

    @Option(names = "--max-piece-length", defaultValue = "16", description = "Longest piece in characters (default: ${DEFAULT-VALUE}).")
    int maxPieceLength;

    @Option(names = "--input-sentence-size", defaultValue = "0",
            description = "Train on a random sample of this many lines; 0 uses all (default: ${DEFAULT-VALUE}).")
    long inputSentenceSize;

    @Option(names = "--unk-id", defaultValue = "0") int unkId;
    @Option(names = "--bos-id", defaultValue = "1") int bosId;
    @Option(names = "--eos-id", defaultValue = "2") int eosId;
    @Option(names = "--pad-id", defaultValue = "-1") int padId;

    @Option(names = "--threads", description = "Threads (default: all cores).")
    Integer threads;

    @Option(names = "--quiet", description = "No progress bar.")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        TrainerSpec spec = new TrainerSpec();
        spec.modelType = switch (modelType) {
            case "unigram" -> TrainerSpec.ModelType.UNIGRAM;
            case "bpe" -> TrainerSpec.ModelType.BPE;
            default -> throw new IllegalArgumentException("--model-type must be unigram or bpe, not '" + modelType + "'.");
        };
        if (!BuiltinNormalization.NAMES.contains(normalization)) {
            throw new IllegalArgumentException("--normalization-rule-name must be one of " + BuiltinNormalization.NAMES + ", not '" + normalization + "'.");
        }
        spec.vocabSize = vocabSize;
        spec.modelPrefix = modelPrefix;
        spec.characterCoverage = characterCoverage;
        spec.byteFallback = byteFallback;
        spec.userDefinedSymbols = new ArrayList<>(userDefinedSymbols);
        spec.controlSymbols = new ArrayList<>(controlSymbols);
        spec.splitDigits = splitDigits;
        spec.splitByWhitespace = splitByWhitespace;
        spec.treatWhitespaceAsSuffix = whitespaceAsSuffix;
        spec.maxSentencepieceLength = maxPieceLength;
        spec.inputSentenceSize = inputSentenceSize;
        spec.unkId = unkId;
        spec.bosId = bosId;
        spec.eosId = eosId;
        spec.padId = padId;
        spec.numThreads = threads != null ? threads : TokenizerIo.defaultThreads();
        Path modelFile = Path.of(modelPrefix + ".model");
        ProgressBar bar = quiet ? ProgressBar.silent() : new ProgressBar(System.err);
        ModelProto model = Trainer.trainToFile(inputs, spec, normalization, modelFile, bar);
        Path vocabFile = Path.of(modelPrefix + ".vocab");
        try (BufferedWriter w = Files.newBufferedWriter(vocabFile)) {
            for (Piece p : model.pieces) {
                w.write(p.text() + "\t" + (p.score() == (long) p.score() ? Long.toString((long) p.score()) : Float.toString(p.score())));
                w.newLine();
            }
        }
        bar.finish("Wrote " + modelFile + " and " + vocabFile + " (" + model.pieces.size() + " pieces).");
        return 0;
    }
}
