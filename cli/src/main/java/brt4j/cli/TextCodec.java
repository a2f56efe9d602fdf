package brt4j.cli;

import brt4j.data.ByteTokenizer;
import brt4j.tokenizer.SentencePieceTokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Text to ids and back for the commands that read and write text: the checkpoint's own {@code tokenizer.model}
 * (SentencePiece) when it has one, else the byte vocabulary when the model's vocabulary is that size.
 */
interface TextCodec {
    int[] encode(String text);

    /** The bytes of ids, decoded as one run (so pieces are joined as the tokenizer joins them). */
    byte[] decode(int[] ids);

    int vocabSize();

    static TextCodec forCheckpoint(Path dir, int modelVocab) {
        Path spm = dir.resolve("tokenizer.model");
        if (Files.isRegularFile(spm)) {
            SentencePieceTokenizer t;
            try {
                t = SentencePieceTokenizer.load(spm);
            } catch (IOException e) {
                throw new UncheckedIOException(spm + ": cannot read (" + e.getMessage() + ")", e);
            }
            if (t.vocabularySize() > modelVocab) {
                throw new IllegalArgumentException(spm + " has " + t.vocabularySize() + " pieces, but the model's vocabulary is " + modelVocab);
            }
            return new TextCodec() {
                public int[] encode(String text) { return t.encode(text); }
                public byte[] decode(int[] ids) {
                    int[] valid = Arrays.stream(ids).map(id -> id < t.vocabularySize() ? id : t.unknownId()).toArray();
                    return t.decodeToBytes(valid);
                }
                public int vocabSize() { return t.vocabularySize(); }
            };
        }
        if (modelVocab == ByteTokenizer.VOCAB) {
            ByteTokenizer b = new ByteTokenizer();
            return new TextCodec() {
                public int[] encode(String text) { return b.encode(text.getBytes(StandardCharsets.UTF_8)); }
                public byte[] decode(int[] ids) { return ByteTokenizer.decode(ids); }
                public int vocabSize() { return ByteTokenizer.VOCAB; }
            };
        }
        throw new IllegalArgumentException(dir + " has no tokenizer.model, and its vocabulary (" + modelVocab
                + ") is not the byte vocabulary (" + ByteTokenizer.VOCAB + "): cannot turn text into tokens");
    }
}
