package brt4j.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Turns pieces back into text as SentencePiece's Decode does: control pieces vanish, the unknown piece prints the
 * model's unk_surface (other text that maps to the unknown id prints as it is), runs of byte pieces are read as
 * UTF-8 with U+FFFD for each byte that does not form a character, and U+2581 becomes a space.
 *
 * <p>Leading U+2581: while nothing has been written, a piece's leading U+2581 is dropped if the model adds a dummy
 * prefix or removes extra whitespace. With remove_extra_whitespaces every such leading U+2581 goes; without it, only
 * the first (the dummy prefix itself). Never throws for ids in range. Thread-safe.
 */
final class Decoder {
    private final Vocabulary vocabulary;
    private final boolean stripLeadingSpace, stripAllLeadingSpaces;
    private final byte[] unknownSurface;
    /** SentencePiece re-looks-up each piece's text; for an id that is the id its text maps to. */
    private final int[] canonicalId;

    Decoder(Vocabulary vocabulary, TrainerSpec trainer, NormalizerSpec normalizer) {
        this.vocabulary = vocabulary;
        this.stripLeadingSpace = normalizer.addDummyPrefix || normalizer.removeExtraWhitespaces;
        this.stripAllLeadingSpaces = normalizer.removeExtraWhitespaces;
        this.unknownSurface = trainer.unkSurface.getBytes(StandardCharsets.UTF_8);
        this.canonicalId = new int[vocabulary.size];
        for (int id = 0; id < vocabulary.size; id++) canonicalId[id] = vocabulary.idOf(vocabulary.texts[id]);
    }

    byte[] decodeIds(int[] ids) {
        ByteSink out = new ByteSink(ids.length * 4);
        ByteSink pendingBytes = new ByteSink(16);
        State state = new State();
        for (int i = 0; i < ids.length; i++) {
            int id = ids[i];
            if (id < 0 || id >= vocabulary.size) {
                throw new IllegalArgumentException("Id " + id + " at position " + i + " is out of range for a vocabulary of "
                        + vocabulary.size + " pieces.");
            }
            appendPiece(vocabulary.bytes[id], canonicalId[id], out, pendingBytes, state);
        }
        flushBytes(pendingBytes, out);
        return out.toArray();
    }

    byte[] decodePieces(List<String> pieces) {
        ByteSink out = new ByteSink(pieces.size() * 4);
        ByteSink pendingBytes = new ByteSink(16);
        State state = new State();
        for (String piece : pieces) {
            appendPiece(piece.getBytes(StandardCharsets.UTF_8), vocabulary.idOf(piece), out, pendingBytes, state);
        }
        flushBytes(pendingBytes, out);
        return out.toArray();
    }

    /** Whether a leading U+2581 may still be dropped, and whether the last piece dropped one. */
    private static final class State {
        boolean atStart = true, droppedSpace = false;
    }

    private void appendPiece(byte[] piece, int id, ByteSink out, ByteSink pendingBytes, State state) {
        PieceType type = vocabulary.types[id];
        if (type == PieceType.BYTE) {
            pendingBytes.add((byte) Vocabulary.byteOfPiece(vocabulary.texts[id]));
            return;
        }
        flushBytes(pendingBytes, out);
        if (state.droppedSpace || out.length > 0) state.atStart = false;
        state.droppedSpace = false;
        switch (type) {
            case CONTROL -> { }
            case UNKNOWN -> {
                if (java.util.Arrays.equals(piece, vocabulary.bytes[id])) out.add(unknownSurface, 0, unknownSurface.length);
                else out.add(piece, 0, piece.length);
            }
            default -> {
                int from = 0;
                if (state.atStart && stripLeadingSpace && Utf8.startsWith(piece, 0, piece.length, Utf8.SPACE_SYMBOL)) {
                    from = 3;
                    state.droppedSpace = !stripAllLeadingSpaces;
                }
                appendUnescaped(piece, from, out);
            }
        }
    }

    private static void appendUnescaped(byte[] piece, int from, ByteSink out) {
        for (int i = from; i < piece.length; ) {
            if (Utf8.startsWith(piece, i, piece.length, Utf8.SPACE_SYMBOL)) {
                out.add((byte) ' ');
                i += 3;
            } else {
                out.add(piece[i++]);
            }
        }
    }

    private static void flushBytes(ByteSink pending, ByteSink out) {
        for (int i = 0; i < pending.length; ) {
            int length = Utf8.validCharLength(pending.data, i, pending.length);
            if (length < 0) {
                out.add(Utf8.REPLACEMENT, 0, 3);
                i++;
            } else {
                out.add(pending.data, i, length);
                i += length;
            }
        }
        pending.clear();
    }
}
