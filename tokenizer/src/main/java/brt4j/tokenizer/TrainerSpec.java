package brt4j.tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * ModelProto.TrainerSpec: the options a model was trained with. Encoding reads only the model type, byte fallback,
 * treat_whitespace_as_suffix and unk_surface; the rest is kept so that models we train record how they were made.
 * Fields start at their proto2 defaults. Fields this class does not name are skipped when read.
 */
public final class TrainerSpec {
    public enum ModelType { UNIGRAM, BPE, WORD, CHAR }

    public List<String> input = new ArrayList<>();
    public String modelPrefix = "";
    public ModelType modelType = ModelType.UNIGRAM;
    public int vocabSize = 8000;
    public float characterCoverage = 0.9995f;
    public long inputSentenceSize = 0;
    public boolean shuffleInputSentence = true;
    public int seedSentencepieceSize = 1_000_000;
    public float shrinkingFactor = 0.75f;
    public int maxSentenceLength = 4192;
    public int numThreads = 16;
    public int numSubIterations = 2;
    public int maxSentencepieceLength = 16;
    public boolean splitByUnicodeScript = true;
    public boolean splitByNumber = true;
    public boolean splitByWhitespace = true;
    public boolean treatWhitespaceAsSuffix = false;
    public boolean allowWhitespaceOnlyPieces = false;
    public boolean splitDigits = false;
    public List<String> controlSymbols = new ArrayList<>();
    public List<String> userDefinedSymbols = new ArrayList<>();
    public String requiredChars = "";
    public boolean byteFallback = false;
    public boolean vocabularyOutputPieceScore = true;
    public boolean hardVocabLimit = true;
    public boolean useAllVocab = false;
    public int unkId = 0;
    public int bosId = 1;
    public int eosId = 2;
    public int padId = -1;
    public String unkPiece = "<unk>";
    public String bosPiece = "<s>";
    public String eosPiece = "</s>";
    public String padPiece = "<pad>";
    /** What decoding prints for the unknown piece: " ⁇ " unless the model says otherwise. */
    public String unkSurface = " \u2047 ";

    /** False when a model file has no trainer_spec and these are all defaults; its ids are then not checked. */
    boolean presentInFile = true;

    static TrainerSpec read(ProtoReader in) {
        TrainerSpec s = new TrainerSpec();
        while (in.hasMore()) {
            int tag = in.readTag();
            switch (tag >>> 3) {
                case 1 -> s.input.add(NormalizerSpec.string(in, tag, "input"));
                case 2 -> s.modelPrefix = NormalizerSpec.string(in, tag, "model_prefix");
                case 3 -> {
                    int type = int32(in, tag, "model_type");
                    if (type < 1 || type > 4) throw in.malformed("model_type " + type);
                    s.modelType = ModelType.values()[type - 1];
                }
                case 4 -> s.vocabSize = int32(in, tag, "vocab_size");
                case 10 -> s.characterCoverage = float32(in, tag, "character_coverage");
                case 11 -> s.inputSentenceSize = varint(in, tag, "input_sentence_size");
                case 19 -> s.shuffleInputSentence = NormalizerSpec.bool(in, tag, "shuffle_input_sentence");
                case 14 -> s.seedSentencepieceSize = int32(in, tag, "seed_sentencepiece_size");
                case 15 -> s.shrinkingFactor = float32(in, tag, "shrinking_factor");
                case 18 -> s.maxSentenceLength = int32(in, tag, "max_sentence_length");
                case 16 -> s.numThreads = int32(in, tag, "num_threads");
                case 17 -> s.numSubIterations = int32(in, tag, "num_sub_iterations");
                case 20 -> s.maxSentencepieceLength = int32(in, tag, "max_sentencepiece_length");
                case 21 -> s.splitByUnicodeScript = NormalizerSpec.bool(in, tag, "split_by_unicode_script");
                case 23 -> s.splitByNumber = NormalizerSpec.bool(in, tag, "split_by_number");
                case 22 -> s.splitByWhitespace = NormalizerSpec.bool(in, tag, "split_by_whitespace");
                case 24 -> s.treatWhitespaceAsSuffix = NormalizerSpec.bool(in, tag, "treat_whitespace_as_suffix");
                case 26 -> s.allowWhitespaceOnlyPieces = NormalizerSpec.bool(in, tag, "allow_whitespace_only_pieces");
                case 25 -> s.splitDigits = NormalizerSpec.bool(in, tag, "split_digits");
                case 30 -> s.controlSymbols.add(NormalizerSpec.string(in, tag, "control_symbols"));
                case 31 -> s.userDefinedSymbols.add(NormalizerSpec.string(in, tag, "user_defined_symbols"));
                case 36 -> s.requiredChars = NormalizerSpec.string(in, tag, "required_chars");
                case 35 -> s.byteFallback = NormalizerSpec.bool(in, tag, "byte_fallback");
                case 32 -> s.vocabularyOutputPieceScore = NormalizerSpec.bool(in, tag, "vocabulary_output_piece_score");
                case 33 -> s.hardVocabLimit = NormalizerSpec.bool(in, tag, "hard_vocab_limit");
                case 34 -> s.useAllVocab = NormalizerSpec.bool(in, tag, "use_all_vocab");
                case 40 -> s.unkId = int32(in, tag, "unk_id");
                case 41 -> s.bosId = int32(in, tag, "bos_id");
                case 42 -> s.eosId = int32(in, tag, "eos_id");
                case 43 -> s.padId = int32(in, tag, "pad_id");
                case 45 -> s.unkPiece = NormalizerSpec.string(in, tag, "unk_piece");
                case 46 -> s.bosPiece = NormalizerSpec.string(in, tag, "bos_piece");
                case 47 -> s.eosPiece = NormalizerSpec.string(in, tag, "eos_piece");
                case 48 -> s.padPiece = NormalizerSpec.string(in, tag, "pad_piece");
                case 44 -> s.unkSurface = NormalizerSpec.string(in, tag, "unk_surface");
                default -> in.skipField(tag);
            }
        }
        return s;
    }

    ProtoWriter write() {
        ProtoWriter o = new ProtoWriter();
        for (String i : input) o.writeString(1, i);
        o.writeString(2, modelPrefix);
        o.writeVarint(3, modelType.ordinal() + 1);
        o.writeInt32(4, vocabSize);
        o.writeFloat(10, characterCoverage);
        o.writeVarint(11, inputSentenceSize);
        o.writeInt32(14, seedSentencepieceSize);
        o.writeFloat(15, shrinkingFactor);
        o.writeInt32(16, numThreads);
        o.writeInt32(17, numSubIterations);
        o.writeInt32(18, maxSentenceLength);
        o.writeBool(19, shuffleInputSentence);
        o.writeInt32(20, maxSentencepieceLength);
        o.writeBool(21, splitByUnicodeScript);
        o.writeBool(22, splitByWhitespace);
        o.writeBool(23, splitByNumber);
        o.writeBool(24, treatWhitespaceAsSuffix);
        o.writeBool(25, splitDigits);
        o.writeBool(26, allowWhitespaceOnlyPieces);
        for (String c : controlSymbols) o.writeString(30, c);
        for (String u : userDefinedSymbols) o.writeString(31, u);
        o.writeBool(32, vocabularyOutputPieceScore);
        o.writeBool(33, hardVocabLimit);
        o.writeBool(34, useAllVocab);
        o.writeBool(35, byteFallback);
        if (!requiredChars.isEmpty()) o.writeString(36, requiredChars);
        o.writeInt32(40, unkId);
        o.writeInt32(41, bosId);
        o.writeInt32(42, eosId);
        o.writeInt32(43, padId);
        o.writeString(44, unkSurface);
        o.writeString(45, unkPiece);
        o.writeString(46, bosPiece);
        o.writeString(47, eosPiece);
        o.writeString(48, padPiece);
        return o;
    }

    private static int int32(ProtoReader in, int tag, String field) {
        in.expectWireType(tag, ProtoReader.VARINT, field);
        return in.readInt32();
    }

    private static long varint(ProtoReader in, int tag, String field) {
        in.expectWireType(tag, ProtoReader.VARINT, field);
        return in.readVarint();
    }

    private static float float32(ProtoReader in, int tag, String field) {
        in.expectWireType(tag, ProtoReader.FIXED32, field);
        return in.readFloat();
    }
}
