package brt4j.tokenizer;

import java.util.HashMap;
import java.util.Map;

/**
 * BPE segmentation as SentencePiece does it (bpe_model.cc): start from single characters (a user-defined piece is
 * one frozen symbol), repeatedly merge the adjacent pair whose concatenation is the highest-scoring piece (leftmost
 * on ties), then split any unused piece back into the two symbols that last formed it. Final symbols take their id
 * the way SentencePiece's PieceToId does: reserved pieces first, then the vocabulary, else the unknown id.
 *
 * <p>Speed: when no piece has U+2581 inside it (only at its start, or only at its end for
 * treat_whitespace_as_suffix), no merge can cross a word boundary, so each word segments on its own exactly as it
 * would inside the line, and results are memoized per word ({@link WordCache}). Models with unused pieces skip
 * this: SentencePiece resegments an unused piece by the last split of that text anywhere in the line.
 */
final class BpeSegmenter implements Segmenter {
    private final PieceTrie trie;
    private final PieceTrie userDefined;
    private final PieceTrie reserved; // unknown, control and byte pieces, looked up first for final symbols
    private final float[] scores;
    private final PieceType[] types;
    private final int unknownId;
    private final boolean hasUnused;
    private enum WordBoundary { NONE, BEFORE_SPACE, AFTER_SPACE }
    private final WordBoundary wordBoundary;

    BpeSegmenter(Vocabulary vocabulary) {
        this.trie = vocabulary.segmentationTrie;
        this.userDefined = vocabulary.userDefinedTrie;
        this.scores = vocabulary.scores;
        this.types = vocabulary.types;
        this.unknownId = vocabulary.unknownId;
        boolean unused = false;
        int reservedCount = 0;
        for (PieceType t : types) {
            unused |= t == PieceType.UNUSED;
            if (t == PieceType.UNKNOWN || t == PieceType.CONTROL || t == PieceType.BYTE) reservedCount++;
        }
        this.hasUnused = unused;
        this.wordBoundary = unused ? WordBoundary.NONE : wordBoundary(vocabulary);
        byte[][] keys = new byte[reservedCount][];
        int[] ids = new int[reservedCount];
        for (int id = 0, k = 0; id < types.length; id++) {
            PieceType t = types[id];
            if (t == PieceType.UNKNOWN || t == PieceType.CONTROL || t == PieceType.BYTE) {
                keys[k] = vocabulary.bytes[id];
                ids[k++] = id;
            }
        }
        this.reserved = PieceTrie.build(keys, ids);
    }

    /** Where words may be cut so that no piece spans a cut, judged from where U+2581 occurs inside pieces. */
    private static WordBoundary wordBoundary(Vocabulary vocabulary) {
        boolean spaceOnlyFirst = true, spaceOnlyLast = true;
        for (int id = 0; id < vocabulary.size; id++) {
            PieceType t = vocabulary.types[id];
            if (t != PieceType.NORMAL && t != PieceType.USER_DEFINED) continue;
            byte[] b = vocabulary.bytes[id];
            for (int i = 0; i + 3 <= b.length; i++) {
                if (Utf8.startsWith(b, i, b.length, Utf8.SPACE_SYMBOL)) {
                    if (i > 0) spaceOnlyFirst = false;
                    if (i + 3 < b.length) spaceOnlyLast = false;
                }
            }
        }
        return spaceOnlyFirst ? WordBoundary.BEFORE_SPACE : spaceOnlyLast ? WordBoundary.AFTER_SPACE : WordBoundary.NONE;
    }

    @Override
    public void segment(byte[] s, int n, EncoderScratch scratch, Segmentation out) {
        out.clear();
        if (wordBoundary == WordBoundary.NONE) {
            segmentRange(s, 0, n, scratch, out);
            return;
        }
        int wordStart = 0;
        for (int i = 0; i + 3 <= n; i++) {
            if (s[i] == (byte) 0xE2 && s[i + 1] == (byte) 0x96 && s[i + 2] == (byte) 0x81) {
                int cut = wordBoundary == WordBoundary.BEFORE_SPACE ? i : i + 3;
                if (cut > wordStart) {
                    segmentWord(s, wordStart, cut, scratch, out);
                    wordStart = cut;
                }
                i += 2;
            }
        }
        if (wordStart < n) segmentWord(s, wordStart, n, scratch, out);
    }

    private void segmentWord(byte[] s, int from, int to, EncoderScratch scratch, Segmentation out) {
        if (to - from > WordCache.MAX_WORD_BYTES) {
            segmentRange(s, from, to, scratch, out);
            return;
        }
        WordCache cache = scratch.wordCache();
        int h = WordCache.hash(s, from, to);
        int e = cache.find(s, from, to, h);
        if (e >= 0) {
            cache.appendTo(e, from, out);
            return;
        }
        int first = out.size();
        segmentRange(s, from, to, scratch, out);
        cache.put(s, from, to, h, out, first);
    }

    /** Segments {@code s[from, to)} on its own, appending to {@code out}. */
    private void segmentRange(byte[] s, int from, int to, EncoderScratch scratch, Segmentation out) {
        int n = to - from;
        if (n == 0) return;
        scratch.ensureSymbols(n);
        int[] start = scratch.symStart, end = scratch.symEnd, prev = scratch.symPrev, next = scratch.symNext;
        boolean[] frozen = scratch.symFrozen;
        int count = 0;
        for (int pos = from; pos < to; count++) {
            int length = userDefined == null ? 0 : userDefined.longestPrefix(s, pos, to);
            frozen[count] = length > 0;
            if (length == 0) length = Math.min(Utf8.oneCharLength(s[pos]), to - pos);
            start[count] = pos;
            end[count] = pos + length;
            prev[count] = count - 1;
            pos += length;
            next[count] = pos < to ? count + 1 : -1;
        }
        // Text of an unused piece -> the symbols that last formed it, as SentencePiece's rev_merge.
        Map<Integer, long[]> reverseMerges = hasUnused ? new HashMap<>() : null;
        BpeAgenda agenda = scratch.agenda;
        agenda.clear();
        for (int i = 1; i < count; i++) addPair(s, i - 1, i, start, end, frozen, agenda, reverseMerges);

        while (!agenda.isEmpty()) {
            int e = agenda.pop();
            int l = agenda.left(e), r = agenda.right(e);
            int lLen = end[l] - start[l], rLen = end[r] - start[r];
            if (lLen == 0 || rLen == 0 || lLen + rLen != agenda.size(e)) continue; // stale
            end[l] = end[r];
            next[l] = next[r];
            if (next[r] >= 0) prev[next[r]] = l;
            end[r] = start[r]; // emptied
            if (prev[l] >= 0) addPair(s, prev[l], l, start, end, frozen, agenda, reverseMerges);
            if (next[l] >= 0) addPair(s, l, next[l], start, end, frozen, agenda, reverseMerges);
        }
        for (int i = 0; i >= 0; i = next[i]) resegment(s, start[i], end[i], reverseMerges, out);
    }

    private void addPair(byte[] s, int l, int r, int[] start, int[] end, boolean[] frozen, BpeAgenda agenda,
                         Map<Integer, long[]> reverseMerges) {
        if (frozen[l] || frozen[r]) return;
        int id = trie.get(s, start[l], end[r]);
        if (id < 0) return;
        agenda.push(scores[id], l, r, end[r] - start[l]);
        if (types[id] == PieceType.UNUSED) {
            reverseMerges.put(id, new long[]{(long) start[l] << 32 | end[l], (long) start[r] << 32 | end[r]});
        }
    }

    /** Splits unused pieces back into the symbols that formed them, depth-first, left part first. */
    private void resegment(byte[] s, int from, int to, Map<Integer, long[]> reverseMerges, Segmentation out) {
        if (reverseMerges == null) { // no unused pieces: the common case
            out.add(from, to, idOf(s, from, to));
            return;
        }
        java.util.ArrayDeque<long[]> pending = new java.util.ArrayDeque<>();
        pending.push(new long[]{from, to});
        while (!pending.isEmpty()) {
            long[] range = pending.pop();
            int a = (int) range[0], b = (int) range[1];
            int id = idOf(s, a, b);
            long[] parts = types[id] == PieceType.UNUSED && reverseMerges != null ? reverseMerges.get(id) : null;
            if (parts == null) {
                out.add(a, b, id);
                continue;
            }
            // The recorded parts are byte ranges of the same text elsewhere in the line; re-anchor them here.
            int leftLength = (int) parts[0] - (int) (parts[0] >>> 32);
            pending.push(new long[]{a + leftLength, b});
            pending.push(new long[]{a, a + leftLength});
        }
    }

    private int idOf(byte[] s, int from, int to) {
        int id = reserved.get(s, from, to);
        if (id >= 0) return id;
        id = trie.get(s, from, to);
        return id >= 0 ? id : unknownId;
    }
}
