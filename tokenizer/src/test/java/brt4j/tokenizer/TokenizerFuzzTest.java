package brt4j.tokenizer;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * No input crashes the loader or the encoder: a model file either loads or fails with {@link ModelFormatException};
 * any bytes encode, and any valid ids decode. The {@link FuzzTest}s replay their saved inputs in a normal test run
 * and fuzz with coverage guidance under {@code JAZZER_FUZZ=1}; the random-mutation tests always run.
 */
class TokenizerFuzzTest {
    private static final SentencePieceTokenizer[] MODELS = {model(false, TrainerSpec.ModelType.UNIGRAM),
            model(true, TrainerSpec.ModelType.UNIGRAM), model(false, TrainerSpec.ModelType.BPE), model(true, TrainerSpec.ModelType.BPE)};

    /** A small hand-made model with every piece type, with or without byte fallback, over nmt_nfkc. */
    static SentencePieceTokenizer model(boolean byteFallback, TrainerSpec.ModelType type) {
        List<Piece> pieces = new ArrayList<>(List.of(new Piece("<unk>", 0, PieceType.UNKNOWN),
                new Piece("<s>", 0, PieceType.CONTROL), new Piece("</s>", 0, PieceType.CONTROL),
                new Piece("<sep>", 0, PieceType.USER_DEFINED), new Piece("▁th", -9, PieceType.UNUSED)));
        if (byteFallback) for (int b = 0; b < 256; b++) pieces.add(new Piece(Vocabulary.pieceOfByte(b), 0, PieceType.BYTE));
        String[] normal = {"▁", "e", "t", "a", "o", "h", "n", " ", "s", "▁the", "he", "th", "▁t", "an", "▁a", "日", "本", "é", "1", "2"};
        for (int i = 0; i < normal.length; i++) pieces.add(new Piece(normal[i], -1 - i * 0.37f, PieceType.NORMAL));
        TrainerSpec spec = new TrainerSpec();
        spec.byteFallback = byteFallback;
        spec.modelType = type;
        spec.vocabSize = pieces.size();
        return new SentencePieceTokenizer(new ModelProto(pieces, spec, BuiltinNormalization.spec("nmt_nfkc"), null), "fuzz");
    }

    @FuzzTest(maxDuration = "30s")
    void encoderAcceptsAnyBytes(byte[] input) {
        for (SentencePieceTokenizer t : MODELS) {
            int[] ids = t.encode(input);
            t.encodeAsPieces(input);
            t.decode(ids);
        }
    }

    @FuzzTest(maxDuration = "30s")
    void loaderFailsOnlyWithAClearError(byte[] file) {
        SentencePieceTokenizer t;
        try {
            t = SentencePieceTokenizer.fromBytes(file, "fuzz.model");
        } catch (ModelFormatException expected) {
            return;
        }
        t.decode(t.encode("the 日本 é<sep>xyz  \t12"));
        int[] all = new int[t.vocabularySize()];
        for (int i = 0; i < all.length; i++) all[i] = i;
        t.decode(all);
    }

    @Test
    void randomBytesEncode() {
        Random r = new Random(1);
        for (int i = 0; i < 3000; i++) {
            byte[] input = new byte[r.nextInt(200)];
            r.nextBytes(input);
            if (i % 2 == 0) for (int k = 0; k < input.length; k++) input[k] = (byte) " ath e\u00e9\t1"
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8)[Math.abs(input[k]) % 9];
            encoderAcceptsAnyBytes(input);
        }
    }

    @Test
    void mutatedModelFilesLoadOrFailCleanly() {
        Random r = new Random(2);
        byte[][] seeds = new byte[MODELS.length][];
        for (int m = 0; m < MODELS.length; m++) {
            ModelProto p = MODELS[m].model();
            // Without the 200 kB charsmap, so mutations land in the pieces and specs.
            seeds[m] = new ModelProto(p.pieces, p.trainerSpec, BuiltinNormalization.spec("identity"), null).toByteArray();
        }
        for (int i = 0; i < 3000; i++) {
            byte[] file = seeds[i % seeds.length].clone();
            int edits = 1 + r.nextInt(4);
            for (int e = 0; e < edits; e++) {
                switch (r.nextInt(3)) {
                    case 0 -> file[r.nextInt(file.length)] = (byte) r.nextInt(256);
                    case 1 -> file = java.util.Arrays.copyOf(file, r.nextInt(file.length + 1));
                    default -> file[r.nextInt(file.length)] ^= (byte) (1 << r.nextInt(8));
                }
                if (file.length == 0) break;
            }
            loaderFailsOnlyWithAClearError(file);
        }
    }
}
