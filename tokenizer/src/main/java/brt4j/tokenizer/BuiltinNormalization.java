package brt4j.tokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.zip.GZIPInputStream;

/**
 * SentencePiece's built-in normalization rules as precompiled charsmaps. The blobs under
 * {@code brt4j/tokenizer/charsmap/} are byte for byte the ones spm_train 0.1.97 writes into a model for each rule
 * (extracted from models it trained; SentencePiece is Apache-2.0, its tables derive from Unicode data), so a model
 * we train normalizes exactly as one SentencePiece trained. {@code identity} has an empty charsmap.
 */
public final class BuiltinNormalization {
    public static final List<String> NAMES = List.of("nmt_nfkc", "nfkc", "nmt_nfkc_cf", "nfkc_cf", "identity");

    private BuiltinNormalization() {
    }

    /** The precompiled charsmap of a rule by name. */
    public static byte[] charsmap(String name) {
        if (!NAMES.contains(name)) {
            throw new IllegalArgumentException("Unknown normalization rule '" + name + "'; the built-in rules are " + NAMES + ".");
        }
        if (name.equals("identity")) return new byte[0];
        try (InputStream in = BuiltinNormalization.class.getResourceAsStream("charsmap/" + name + ".bin.gz")) {
            if (in == null) throw new IllegalStateException("The charsmap resource for " + name + " is missing from the jar.");
            return new GZIPInputStream(in).readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A normalizer spec for a built-in rule with SentencePiece's default whitespace handling. */
    public static NormalizerSpec spec(String name) {
        NormalizerSpec spec = new NormalizerSpec();
        spec.name = name;
        spec.precompiledCharsmap = charsmap(name);
        return spec;
    }
}
