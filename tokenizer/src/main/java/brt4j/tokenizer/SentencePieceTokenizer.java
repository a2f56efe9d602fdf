package brt4j.tokenizer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A SentencePiece unigram or BPE model, ready to encode and decode with exactly the ids, pieces and text that
 * SentencePiece 0.1.97 produces. Thread-safe: each thread encodes with its own scratch memory.
 *
 * <p>Encoding is normalization ({@link Normalizer}), segmentation ({@link UnigramSegmenter} or
 * {@link BpeSegmenter}), then SentencePiece's post-processing: a run of unknown pieces becomes one unknown piece,
 * or, with byte fallback, each unknown piece becomes its UTF-8 bytes as {@code <0xNN>} pieces.
 */
public final class SentencePieceTokenizer {
    private final ModelProto model;
    private final Vocabulary vocabulary;
    private final Normalizer normalizer;
    private final Segmenter segmenter;
    private final Decoder decoder;
    private final ThreadLocal<EncoderScratch> scratch = ThreadLocal.withInitial(EncoderScratch::new);

    public SentencePieceTokenizer(ModelProto model, String source) {
        this.model = model;
        this.vocabulary = new Vocabulary(model, source);
        this.normalizer = new Normalizer(model.normalizerSpec, model.trainerSpec, vocabulary.userDefinedTrie, source);
        this.segmenter = switch (model.trainerSpec.modelType) {
            case UNIGRAM -> new UnigramSegmenter(vocabulary);
            case BPE -> new BpeSegmenter(vocabulary);
            default -> throw new ModelFormatException(source + ": trainer_spec.model_type " + model.trainerSpec.modelType
                    + " is not supported; only UNIGRAM and BPE models are.");
        };
        this.decoder = new Decoder(vocabulary, model.trainerSpec, model.normalizerSpec);
    }

    /** Loads a {@code .model} file. */
    public static SentencePieceTokenizer load(Path file) throws IOException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(file.toString(), null, "model file not found");
        }
        return fromBytes(bytes, file.toString());
    }

    /** Loads a model from the bytes of a {@code .model} file; {@code source} names it in error messages. */
    public static SentencePieceTokenizer fromBytes(byte[] modelFile, String source) {
        return new SentencePieceTokenizer(ModelProto.parse(modelFile, source), source);
    }

    public ModelProto model() {
        return model;
    }

    public int vocabularySize() {
        return vocabulary.size;
    }

    /** The text of piece {@code id}. */
    public String idToPiece(int id) {
        checkId(id);
        return vocabulary.texts[id];
    }

    /** The id of a piece's text, or the unknown id, as SentencePiece's PieceToId. */
    public int pieceToId(String piece) {
        return vocabulary.idOf(piece);
    }

    public PieceType pieceType(int id) {
        checkId(id);
        return vocabulary.types[id];
    }

    public float score(int id) {
        checkId(id);
        return vocabulary.scores[id];
    }

    public int unknownId() {
        return vocabulary.unknownId;
    }

    public int[] encode(String text) {
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        return encode(utf8, 0, utf8.length);
    }

    /** Encodes UTF-8 bytes, which may be malformed: each bad byte reads as U+FFFD, as in SentencePiece. */
    public int[] encode(byte[] utf8) {
        return encode(utf8, 0, utf8.length);
    }

    public int[] encode(byte[] utf8, int from, int to) {
        EncoderScratch s = scratch.get();
        s.ids.clear();
        encodeInto(utf8, from, to, s, s.ids);
        return s.ids.toArray();
    }

    /** This thread's scratch memory. */
    EncoderScratch scratch() {
        return scratch.get();
    }

    /**
     * Encodes many texts on all cores (the common fork-join pool); element i of the result is the ids of text i.
     */
    public List<int[]> encodeAll(List<String> texts) {
        int[][] out = new int[texts.size()][];
        java.util.stream.IntStream.range(0, texts.size()).parallel().forEach(i -> out[i] = encode(texts.get(i)));
        return java.util.Arrays.asList(out);
    }

    /** Appends the ids of {@code utf8[from, to)} to {@code out}: the allocation-free path for streams and batches. */
    void encodeInto(byte[] utf8, int from, int to, EncoderScratch s, IntSink out) {
        normalizer.normalize(utf8, from, to, s.normalized);
        Segmentation seg = s.segmentation;
        segmenter.segment(s.normalized.data, s.normalized.length, s, seg);
        boolean previousUnknown = false;
        byte[] norm = s.normalized.data;
        for (int k = 0; k < seg.size(); k++) {
            int id = seg.ids.data[k];
            boolean unknown = vocabulary.types[id] == PieceType.UNKNOWN;
            if (unknown && vocabulary.byteFallback) {
                for (int i = seg.starts.data[k]; i < seg.ends.data[k]; i++) out.add(vocabulary.byteIds[norm[i] & 0xFF]);
            } else if (!(unknown && previousUnknown)) {
                out.add(id);
            }
            previousUnknown = unknown;
        }
    }

    public List<String> encodeAsPieces(String text) {
        return encodeAsPieces(text.getBytes(StandardCharsets.UTF_8));
    }

    public List<String> encodeAsPieces(byte[] utf8) {
        EncoderScratch s = scratch.get();
        normalizer.normalize(utf8, 0, utf8.length, s.normalized);
        Segmentation seg = s.segmentation;
        segmenter.segment(s.normalized.data, s.normalized.length, s, seg);
        List<String> pieces = new ArrayList<>(seg.size());
        boolean previousUnknown = false;
        byte[] norm = s.normalized.data;
        int runStart = 0;
        for (int k = 0; k < seg.size(); k++) {
            int id = seg.ids.data[k], from = seg.starts.data[k], to = seg.ends.data[k];
            boolean unknown = vocabulary.types[id] == PieceType.UNKNOWN;
            if (unknown && vocabulary.byteFallback) {
                for (int i = from; i < to; i++) pieces.add(Vocabulary.pieceOfByte(norm[i]));
            } else if (unknown && previousUnknown) {
                // SentencePiece merges a run of unknown pieces into one whose text is the whole run.
                pieces.set(pieces.size() - 1, new String(norm, runStart, to - runStart, StandardCharsets.UTF_8));
            } else {
                pieces.add(new String(norm, from, to - from, StandardCharsets.UTF_8));
                runStart = from;
            }
            previousUnknown = unknown;
        }
        return pieces;
    }

    /** The normalized form of a text (U+2581 for spaces), as SentencePiece's normalizer gives it. */
    public String normalize(String text) {
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        EncoderScratch s = scratch.get();
        normalizer.normalize(utf8, 0, utf8.length, s.normalized);
        return new String(s.normalized.data, 0, s.normalized.length, StandardCharsets.UTF_8);
    }

    public String decode(int[] ids) {
        return new String(decoder.decodeIds(ids), StandardCharsets.UTF_8);
    }

    /** Decodes to UTF-8 bytes (always well-formed: bad byte pieces decode to U+FFFD). */
    public byte[] decodeToBytes(int[] ids) {
        return decoder.decodeIds(ids);
    }

    public String decodePieces(List<String> pieces) {
        return new String(decoder.decodePieces(pieces), StandardCharsets.UTF_8);
    }

    public byte[] decodePiecesToBytes(List<String> pieces) {
        return decoder.decodePieces(pieces);
    }

    private void checkId(int id) {
        if (id < 0 || id >= vocabulary.size) {
            throw new IllegalArgumentException("Id " + id + " is out of range for a vocabulary of " + vocabulary.size + " pieces.");
        }
    }
}
