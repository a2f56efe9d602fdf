package brt4j.tokenizer;

/**
 * A model file that cannot be used: truncated, not a SentencePiece ModelProto, or inconsistent. The message is one
 * sentence that names the file and the field at fault, so the CLI can print it as it is.
 */
public final class ModelFormatException extends IllegalArgumentException {
    public ModelFormatException(String message) {
        super(message);
    }
}
