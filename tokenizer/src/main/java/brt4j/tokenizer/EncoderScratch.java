package brt4j.tokenizer;

/** Per-thread working memory for encoding, so a warm encoder allocates only its results. */
final class EncoderScratch {
    final ByteSink normalized = new ByteSink(1024);
    final Segmentation segmentation = new Segmentation();
    final IntSink ids = new IntSink(256);
    float[] bestScore = new float[0];
    int[] bestStart = new int[0], bestId = new int[0];
    /** BPE symbols: byte range, neighbours, and whether a user-defined piece froze them. */
    int[] symStart = new int[0], symEnd = new int[0], symPrev = new int[0], symNext = new int[0];
    boolean[] symFrozen = new boolean[0];
    final BpeAgenda agenda = new BpeAgenda();
    private WordCache wordCache; // only BPE uses it

    WordCache wordCache() {
        if (wordCache == null) wordCache = new WordCache();
        return wordCache;
    }

    void ensureLattice(int size) {
        if (bestScore.length < size) {
            int n = Math.max(size, bestScore.length * 2);
            bestScore = new float[n];
            bestStart = new int[n];
            bestId = new int[n];
        }
    }

    void ensureSymbols(int size) {
        if (symStart.length < size) {
            int n = Math.max(size, symStart.length * 2);
            symStart = new int[n];
            symEnd = new int[n];
            symPrev = new int[n];
            symNext = new int[n];
            symFrozen = new boolean[n];
        }
    }
}
