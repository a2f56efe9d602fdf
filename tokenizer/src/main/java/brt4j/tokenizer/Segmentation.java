package brt4j.tokenizer;

/**
 * The pieces a segmenter found in normalized text, in order: piece k covers normalized bytes
 * {@code [starts[k], ends[k])} and has id {@code ids[k]} (the unknown id for text outside the vocabulary).
 * Reused between calls by one thread.
 */
final class Segmentation {
    final IntSink starts = new IntSink(256);
    final IntSink ends = new IntSink(256);
    final IntSink ids = new IntSink(256);

    void clear() {
        starts.clear();
        ends.clear();
        ids.clear();
    }

    void add(int start, int end, int id) {
        starts.add(start);
        ends.add(end);
        ids.add(id);
    }

    int size() {
        return ids.length;
    }
}
