package brt4j.tokenizer;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Broken model files get one clear sentence naming the problem; proto2 defaults and unknown fields are handled. */
class ModelLoadingTest {
    static ModelProto tiny(List<Piece> pieces) {
        return new ModelProto(pieces, new TrainerSpec(), BuiltinNormalization.spec("identity"), null);
    }

    static List<Piece> basicPieces() {
        return new ArrayList<>(List.of(new Piece("<unk>", 0, PieceType.UNKNOWN), new Piece("<s>", 0, PieceType.CONTROL),
                new Piece("</s>", 0, PieceType.CONTROL), new Piece("▁", -1, PieceType.NORMAL), new Piece("a", -2, PieceType.NORMAL),
                new Piece("b", -2, PieceType.NORMAL), new Piece("▁ab", -1, PieceType.NORMAL)));
    }

    static String loadError(byte[] bytes) {
        return assertThrows(ModelFormatException.class, () -> SentencePieceTokenizer.fromBytes(bytes, "m.model")).getMessage();
    }

    @Test
    void roundTripsThroughTheWireFormat() {
        byte[] bytes = tiny(basicPieces()).toByteArray();
        SentencePieceTokenizer t = SentencePieceTokenizer.fromBytes(bytes, "m.model");
        assertEquals(7, t.vocabularySize());
        assertArrayEquals(new int[]{6, 3, 4}, t.encode("ab a"));
        assertEquals("ab a", t.decode(t.encode("ab a")));
        assertEquals(List.of("▁ab", "▁", "a"), t.encodeAsPieces("ab a"));
    }

    @Test
    void truncatedFilesAreNamedAsSuch() {
        byte[] bytes = tiny(basicPieces()).toByteArray();
        for (int cut : new int[]{1, 5, 17, bytes.length / 2, bytes.length - 1}) {
            byte[] truncated = Arrays.copyOf(bytes, cut);
            String message = assertThrows(IllegalArgumentException.class,
                    () -> SentencePieceTokenizer.fromBytes(truncated, "m.model")).getMessage();
            assertTrue(message.startsWith("m.model"), message);
        }
    }

    @Test
    void otherFilesAreNotModels() {
        assertTrue(loadError(new byte[0]).contains("no pieces"));
        assertTrue(loadError("{\"json\": true}\n".getBytes(StandardCharsets.UTF_8)).contains("not a SentencePiece model"));
        assertTrue(loadError(new byte[]{(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10}).contains("m.model"));
    }

    @Test
    void inconsistentModelsAreRejected() {
        List<Piece> noUnknown = basicPieces();
        noUnknown.set(0, new Piece("<unk>", 0, PieceType.CONTROL));
        assertTrue(loadError(tiny(noUnknown).toByteArray()).contains("no piece has type UNKNOWN"));

        List<Piece> twoUnknown = basicPieces();
        twoUnknown.add(new Piece("<unk2>", 0, PieceType.UNKNOWN));
        assertTrue(loadError(tiny(twoUnknown).toByteArray()).contains("both of type UNKNOWN"));

        List<Piece> duplicate = basicPieces();
        duplicate.add(new Piece("a", -3, PieceType.NORMAL));
        assertTrue(loadError(tiny(duplicate).toByteArray()).contains("'a' is already defined"));

        List<Piece> empty = basicPieces();
        empty.add(new Piece("", -3, PieceType.NORMAL));
        assertTrue(loadError(tiny(empty).toByteArray()).contains("piece 7 is empty"));

        ModelProto idOutOfRange = tiny(basicPieces());
        idOutOfRange.trainerSpec.eosId = 99;
        assertTrue(loadError(idOutOfRange.toByteArray()).contains("trainer_spec.eos_id 99 is out of range for 7 pieces"));

        List<Piece> stray = basicPieces();
        stray.add(new Piece("<0x41>", 0, PieceType.BYTE));
        assertTrue(loadError(tiny(stray).toByteArray()).contains("byte_fallback is false"));

        ModelProto fewBytes = tiny(stray);
        fewBytes.trainerSpec.byteFallback = true;
        assertTrue(loadError(fewBytes.toByteArray()).contains("<0x00> is missing"));

        ModelProto word = tiny(basicPieces());
        word.trainerSpec.modelType = TrainerSpec.ModelType.WORD;
        assertTrue(loadError(word.toByteArray()).contains("only UNIGRAM and BPE"));

        ModelProto badCharsmap = tiny(basicPieces());
        badCharsmap.normalizerSpec.precompiledCharsmap = new byte[]{(byte) 0xFF, 0, 0, 0, 1, 2};
        assertTrue(loadError(badCharsmap.toByteArray()).contains("precompiled_charsmap is invalid"));
    }

    @Test
    void unknownFieldsAreSkippedAndDefaultsApply() {
        ProtoWriter piece = new ProtoWriter();
        piece.writeString(1, "<unk>");
        piece.writeVarint(3, PieceType.UNKNOWN.protoNumber);
        piece.writeVarint(77, 5); // a field from a future version
        ProtoWriter other = new ProtoWriter();
        other.writeString(1, "x"); // no score, no type: 0.0 and NORMAL
        ProtoWriter model = new ProtoWriter();
        model.writeMessage(1, piece);
        model.writeMessage(1, other);
        model.writeBytes(99, new byte[]{1, 2, 3});
        model.writeFloat(98, 1.5f);
        ModelProto parsed = ModelProto.parse(model.toByteArray(), "m.model");
        assertEquals(new Piece("x", 0, PieceType.NORMAL), parsed.pieces.get(1));
        assertEquals(8000, parsed.trainerSpec.vocabSize);
        assertEquals(TrainerSpec.ModelType.UNIGRAM, parsed.trainerSpec.modelType);
        assertTrue(parsed.normalizerSpec.addDummyPrefix && parsed.normalizerSpec.removeExtraWhitespaces);
        assertEquals(" \u2047 ", parsed.trainerSpec.unkSurface);
        SentencePieceTokenizer t = new SentencePieceTokenizer(parsed, "m.model");
        assertArrayEquals(new int[]{0, 1, 0}, t.encode("zxz"));
    }

    @Test
    void decodingNeverThrowsOnValidIdsAndNamesInvalidOnes() {
        SentencePieceTokenizer t = SentencePieceTokenizer.fromBytes(tiny(basicPieces()).toByteArray(), "m.model");
        for (int a = 0; a < 7; a++) for (int b = 0; b < 7; b++) for (int c = 0; c < 7; c++) t.decode(new int[]{a, b, c});
        String message = assertThrows(IllegalArgumentException.class, () -> t.decode(new int[]{1, 7})).getMessage();
        assertEquals("Id 7 at position 1 is out of range for a vocabulary of 7 pieces.", message);
        assertFalse(t.decode(new int[]{0}).isEmpty());
    }
}
