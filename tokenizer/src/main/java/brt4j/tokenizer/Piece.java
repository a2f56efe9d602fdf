package brt4j.tokenizer;

/** One vocabulary entry: its text (with U+2581 for a space), its score, and its type. */
public record Piece(String text, float score, PieceType type) {
}
