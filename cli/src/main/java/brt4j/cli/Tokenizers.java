package brt4j.cli;

import brt4j.data.ByteTokenizer;
import brt4j.data.TextTokenizer;
import brt4j.tokenizer.SentencePieceTokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * Tokenizers by name: {@code bytes} (no file) or a SentencePiece {@code .model} file. A checkpoint keeps the one it
 * was trained with: {@code tokenizer.model}, or {@code tokenizer.json} saying {@code bytes}.
 */
final class Tokenizers {
    static final String SPM_FILE = "tokenizer.model", BYTES_FILE = "tokenizer.json";

    private Tokenizers() {}

    static TextTokenizer load(String spec) throws IOException {
        if (spec == null || spec.equals("bytes")) return new ByteTokenizer();
        Path file = Path.of(spec);
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException("tokenizer " + file + " does not exist (give a SentencePiece .model file, or 'bytes')");
        return new Spm(SentencePieceTokenizer.load(file), file);
    }

    /** The tokenizer saved in a checkpoint, or null when it holds none. */
    static TextTokenizer fromCheckpoint(Path dir) throws IOException {
        if (Files.isRegularFile(dir.resolve(SPM_FILE))) return load(dir.resolve(SPM_FILE).toString());
        if (Files.isRegularFile(dir.resolve(BYTES_FILE))) return new ByteTokenizer();
        return null;
    }

    /** Writes the tokenizer into a checkpoint directory. */
    static void save(TextTokenizer t, Path dir) {
        try {
            if (t instanceof Spm s) Files.copy(s.file, dir.resolve(SPM_FILE), StandardCopyOption.REPLACE_EXISTING);
            else Files.writeString(dir.resolve(BYTES_FILE), "{\"type\": \"bytes\", \"vocab_size\": " + t.vocabSize() + "}\n");
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot save the tokenizer (" + e.getMessage() + ")", e);
        }
    }

    /** Refuses a tokenizer whose ids do not fit the model's vocabulary. */
    static void check(TextTokenizer t, int vocab, String what) {
        if (t.vocabSize() > vocab) {
            throw new IllegalArgumentException("the tokenizer (" + t.describe() + ") does not match " + what + ", whose vocab_size is "
                    + vocab);
        }
    }

    /** Two tokenizers agree when their fingerprints do. */
    static void checkSame(TextTokenizer given, TextTokenizer saved, Path checkpoint) {
        if (saved != null && !given.fingerprint().equals(saved.fingerprint())) {
            throw new IllegalArgumentException("tokenizer " + given.describe() + " does not match the one saved in " + checkpoint
                    + " (" + saved.describe() + ")");
        }
    }

    private static final class Spm implements TextTokenizer {
        private final SentencePieceTokenizer spm;
        private final Path file;
        private final String fingerprint;

        Spm(SentencePieceTokenizer spm, Path file) throws IOException {
            this.spm = spm;
            this.file = file;
            try {
                this.fingerprint = "spm/" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }

        @Override public int vocabSize() { return spm.vocabularySize(); }

        @Override public int[] encode(byte[] utf8) { return spm.encode(utf8); }

        /** Ids the model knows but the pieces do not (a padded vocabulary) decode as the unknown piece. */
        @Override public byte[] decode(int[] ids) {
            int[] valid = java.util.Arrays.stream(ids).map(id -> id < spm.vocabularySize() ? id : spm.unknownId()).toArray();
            return spm.decodeToBytes(valid);
        }

        @Override public String fingerprint() { return fingerprint; }

        @Override public String describe() { return file.getFileName() + " (" + spm.vocabularySize() + " pieces)"; }
    }
}
