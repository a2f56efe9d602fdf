package brt4j.tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Trains a unigram or BPE model from text files and writes a {@code .model} file that SentencePiece loads.
 *
 * <p>The options are a {@link TrainerSpec} (vocab_size, model_type, character_coverage, byte_fallback,
 * user_defined_symbols, control_symbols, split_digits, split_by_whitespace, treat_whitespace_as_suffix, the special
 * piece ids...) and a normalization rule by name. The layout of the vocabulary follows spm_train: the unknown,
 * bos, eos and pad pieces at their ids, then control symbols, user-defined symbols and the 256 byte pieces in the
 * first free ids, then the learnt pieces.
 */
public final class Trainer {
    private Trainer() {
    }

    /** Trains on {@code inputs} and returns the model; {@code spec.modelType} picks unigram or BPE. */
    public static ModelProto train(List<Path> inputs, TrainerSpec spec, String normalizationRule, ProgressBar bar)
            throws IOException {
        if (spec.modelType != TrainerSpec.ModelType.UNIGRAM && spec.modelType != TrainerSpec.ModelType.BPE) {
            throw new IllegalArgumentException("Model type " + spec.modelType + " cannot be trained; use UNIGRAM or BPE.");
        }
        if (spec.characterCoverage <= 0 || spec.characterCoverage > 1) {
            throw new IllegalArgumentException("Character coverage " + spec.characterCoverage + " must be in (0, 1].");
        }
        if (spec.maxSentencepieceLength < 1) {
            throw new IllegalArgumentException("Max piece length " + spec.maxSentencepieceLength + " must be at least 1.");
        }
        NormalizerSpec normalizer = BuiltinNormalization.spec(normalizationRule);
        TreeMap<Integer, Piece> meta = metaPieces(spec);
        if (meta.size() >= spec.vocabSize) {
            throw new IllegalArgumentException("Vocabulary size " + spec.vocabSize + " leaves no room after the "
                    + meta.size() + " special, user-defined and byte pieces.");
        }
        spec.input = new ArrayList<>(inputs.stream().map(Path::toString).toList());
        TrainingText text = TrainingText.load(inputs, spec, normalizer, bar);
        if (text.requiredChars.length + meta.size() > spec.vocabSize) {
            throw new IllegalArgumentException("Vocabulary size " + spec.vocabSize + " is smaller than the "
                    + (text.requiredChars.length + meta.size()) + " characters and special pieces it must hold; "
                    + "use a larger vocabulary size or a lower character coverage.");
        }
        int threads = Math.max(1, Math.min(spec.numThreads, Runtime.getRuntime().availableProcessors()));
        List<Piece> learnt;
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "unigram-trainer");
            t.setDaemon(true);
            return t;
        });
        try {
            learnt = spec.modelType == TrainerSpec.ModelType.BPE
                    ? new BpeTrainer(spec, text, meta.size(), bar).train()
                    : new UnigramTrainer(spec, text, meta.size(), pool, threads, bar).train();
        } finally {
            pool.shutdownNow();
        }
        Set<String> metaTexts = new HashSet<>();
        for (Piece m : meta.values()) metaTexts.add(m.text());
        learnt = new ArrayList<>(learnt.stream().filter(p -> !metaTexts.contains(p.text())).toList());
        if (learnt.size() + meta.size() < spec.vocabSize) {
            throw new IllegalArgumentException("Vocabulary size " + spec.vocabSize + " is too large for this text: only "
                    + (learnt.size() + meta.size()) + " pieces can be formed; use a smaller vocabulary size.");
        }
        List<Piece> pieces = new ArrayList<>(spec.vocabSize);
        int next = 0;
        for (int id = 0; id < spec.vocabSize; id++) {
            Piece m = meta.get(id);
            pieces.add(m != null ? m : learnt.get(next++));
        }
        return new ModelProto(pieces, spec, normalizer, null);
    }

    /** Trains and writes the model to {@code output}. */
    public static ModelProto trainToFile(List<Path> inputs, TrainerSpec spec, String normalizationRule, Path output,
                                         ProgressBar bar) throws IOException {
        ModelProto model = train(inputs, spec, normalizationRule, bar);
        Path parent = output.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        Files.write(output, model.toByteArray());
        // Check what we wrote the way a user of the file will load it.
        new SentencePieceTokenizer(model, output.toString());
        return model;
    }

    /** The special, control, user-defined and byte pieces by id, as spm_train places them. */
    static TreeMap<Integer, Piece> metaPieces(TrainerSpec spec) {
        TreeMap<Integer, Piece> meta = new TreeMap<>();
        if (spec.vocabSize <= 0) throw new IllegalArgumentException("The vocabulary size must be positive, got " + spec.vocabSize + ".");
        if (spec.unkId < 0) throw new IllegalArgumentException("The unknown piece needs an id (unk_id must be >= 0).");
        placeSpecial(meta, spec.unkId, spec.unkPiece, PieceType.UNKNOWN, "unk_id", spec.vocabSize);
        placeSpecial(meta, spec.bosId, spec.bosPiece, PieceType.CONTROL, "bos_id", spec.vocabSize);
        placeSpecial(meta, spec.eosId, spec.eosPiece, PieceType.CONTROL, "eos_id", spec.vocabSize);
        placeSpecial(meta, spec.padId, spec.padPiece, PieceType.CONTROL, "pad_id", spec.vocabSize);
        Set<String> seen = new HashSet<>();
        for (Piece p : meta.values()) {
            if (!seen.add(p.text())) throw new IllegalArgumentException("Special piece '" + p.text() + "' is defined twice.");
        }
        int[] nextId = {0};
        java.util.function.BiConsumer<String, PieceType> add = (text, type) -> {
            if (text.isEmpty()) throw new IllegalArgumentException("A " + type.name().toLowerCase() + " symbol is empty.");
            if (!seen.add(text)) throw new IllegalArgumentException("Symbol '" + text + "' is defined twice.");
            while (meta.containsKey(nextId[0])) nextId[0]++;
            meta.put(nextId[0], new Piece(text, 0, type));
        };
        for (String s : spec.controlSymbols) add.accept(s, PieceType.CONTROL);
        for (String s : spec.userDefinedSymbols) add.accept(s, PieceType.USER_DEFINED);
        if (spec.byteFallback) for (int b = 0; b < 256; b++) add.accept(Vocabulary.pieceOfByte(b), PieceType.BYTE);
        return meta;
    }

    private static void placeSpecial(TreeMap<Integer, Piece> meta, int id, String text, PieceType type, String field, int vocabSize) {
        if (id < 0) return;
        if (id >= vocabSize) throw new IllegalArgumentException(field + " " + id + " is out of range for vocabulary size " + vocabSize + ".");
        if (meta.containsKey(id)) throw new IllegalArgumentException(field + " " + id + " is already taken by '" + meta.get(id).text() + "'.");
        meta.put(id, new Piece(text, 0, type));
    }
}
