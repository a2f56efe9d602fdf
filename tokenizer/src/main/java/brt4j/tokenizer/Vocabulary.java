package brt4j.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The pieces of a model with the lookups encoding and decoding need, checked for consistency the way SentencePiece
 * checks them when it loads a model (non-empty unique pieces, exactly one unknown piece, 256 well-formed byte pieces
 * when byte fallback is on), plus the trainer-spec ids being in range.
 *
 * <p>As in SentencePiece, normal, user-defined and unused pieces form the segmentation vocabulary, while unknown,
 * control and byte pieces are "reserved": they are looked up first when text is turned back into an id.
 */
final class Vocabulary {
    final int size;
    final String[] texts;
    final byte[][] bytes;
    final float[] scores;
    final PieceType[] types;
    final int unknownId;
    final boolean byteFallback;
    /** The id of piece {@code <0xNN>} for each byte, when byte fallback is on. */
    final int[] byteIds = new int[256];
    /** Normal, user-defined and unused pieces: what segmentation may produce. */
    final PieceTrie segmentationTrie;
    /** User-defined pieces only, or null when there are none: matched before normalization and never split. */
    final PieceTrie userDefinedTrie;
    /** Lowest and highest score among normal pieces, with SentencePiece's starting values (FLT_MAX, FLT_MIN). */
    final float minNormalScore, maxNormalScore;
    private final Map<String, Integer> reserved = new HashMap<>();
    private final Map<String, Integer> segmentable = new HashMap<>();

    Vocabulary(ModelProto model, String source) {
        List<Piece> pieces = model.pieces;
        size = pieces.size();
        texts = new String[size];
        bytes = new byte[size][];
        scores = new float[size];
        types = new PieceType[size];
        byteFallback = model.trainerSpec.byteFallback;
        java.util.Arrays.fill(byteIds, -1);
        int unk = -1, userDefinedCount = 0, segmentableCount = 0;
        float min = Float.MAX_VALUE, max = Float.MIN_VALUE;
        for (int id = 0; id < size; id++) {
            Piece p = pieces.get(id);
            texts[id] = p.text();
            bytes[id] = p.text().getBytes(StandardCharsets.UTF_8);
            scores[id] = p.score();
            types[id] = p.type();
            if (p.text().isEmpty()) throw bad(source, "piece " + id + " is empty");
            if (p.text().indexOf('\0') >= 0) {
                throw bad(source, "piece " + id + " contains a NUL character, which SentencePiece cannot load either");
            }
            boolean isSegmentable = p.type() == PieceType.NORMAL || p.type() == PieceType.USER_DEFINED
                    || p.type() == PieceType.UNUSED;
            Map<String, Integer> table = isSegmentable ? segmentable : reserved;
            if (table.putIfAbsent(p.text(), id) != null) {
                throw bad(source, "piece " + id + " '" + p.text() + "' is already defined as piece " + table.get(p.text()));
            }
            if (isSegmentable) segmentableCount++;
            if (p.type() == PieceType.USER_DEFINED) userDefinedCount++;
            if (p.type() == PieceType.NORMAL) {
                min = Math.min(min, p.score());
                max = Math.max(max, p.score());
            }
            if (p.type() == PieceType.UNKNOWN) {
                if (unk >= 0) throw bad(source, "pieces " + unk + " and " + id + " are both of type UNKNOWN");
                unk = id;
            }
            if (p.type() == PieceType.BYTE) {
                if (!byteFallback) {
                    throw bad(source, "byte piece " + id + " '" + p.text() + "' is present although trainer_spec.byte_fallback is false");
                }
                int b = byteOfPiece(p.text());
                if (b < 0) throw bad(source, "byte piece " + id + " '" + p.text() + "' is not of the form <0xNN>");
                byteIds[b] = id;
            }
        }
        if (unk < 0) throw bad(source, "no piece has type UNKNOWN, so unknown text has no id");
        unknownId = unk;
        if (byteFallback) {
            for (int b = 0; b < 256; b++) {
                if (byteIds[b] < 0) {
                    throw bad(source, String.format("trainer_spec.byte_fallback is true but byte piece <0x%02X> is missing", b));
                }
            }
        }
        if (model.trainerSpec.presentInFile) {
            checkIdInRange(model.trainerSpec.unkId, "unk_id", source);
            checkIdInRange(model.trainerSpec.bosId, "bos_id", source);
            checkIdInRange(model.trainerSpec.eosId, "eos_id", source);
            checkIdInRange(model.trainerSpec.padId, "pad_id", source);
        }
        minNormalScore = min;
        maxNormalScore = max;

        byte[][] keys = new byte[segmentableCount][];
        int[] ids = new int[segmentableCount];
        byte[][] userKeys = new byte[userDefinedCount][];
        int[] userIds = new int[userDefinedCount];
        for (int id = 0, k = 0, u = 0; id < size; id++) {
            if (segmentable.get(texts[id]) != null && segmentable.get(texts[id]) == id) {
                keys[k] = bytes[id];
                ids[k++] = id;
                if (types[id] == PieceType.USER_DEFINED) {
                    userKeys[u] = bytes[id];
                    userIds[u++] = id;
                }
            }
        }
        segmentationTrie = PieceTrie.build(keys, ids);
        userDefinedTrie = userDefinedCount == 0 ? null : PieceTrie.build(userKeys, userIds);
    }

    private void checkIdInRange(int id, String field, String source) {
        if (id >= size) throw bad(source, "trainer_spec." + field + " " + id + " is out of range for " + size + " pieces");
        if (id < -1) throw bad(source, "trainer_spec." + field + " " + id + " is negative");
    }

    private static ModelFormatException bad(String source, String what) {
        return new ModelFormatException(source + " is inconsistent: " + what + ".");
    }

    /** SentencePiece's PieceToId: reserved pieces first, then the others, else the unknown id. */
    int idOf(String text) {
        Integer id = reserved.get(text);
        if (id == null) id = segmentable.get(text);
        return id == null ? unknownId : id;
    }

    /** The reserved (unknown, control or byte) piece with this text, or -1. */
    int reservedIdOf(String text) {
        Integer id = reserved.get(text);
        return id == null ? -1 : id;
    }

    boolean hasReserved() {
        return !reserved.isEmpty();
    }

    /** The byte a piece of the exact form {@code <0xNN>} (upper-case hex) stands for, or -1. */
    static int byteOfPiece(String text) {
        if (text.length() != 6 || !text.startsWith("<0x") || text.charAt(5) != '>') return -1;
        int hi = hexDigit(text.charAt(3)), lo = hexDigit(text.charAt(4));
        return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
    }

    private static int hexDigit(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    static String pieceOfByte(int b) {
        return String.format("<0x%02X>", b & 0xFF);
    }
}
