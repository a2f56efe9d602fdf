package brt4j.data;

/**
 * Tokenized documents, indexed 0..docCount-1: the memory-mapped {@link TokenCache}, or an in-memory list (the demo's
 * synthetic corpus, tests). Read-only and safe to share between threads.
 */
public interface TokenSource {
    int docCount();

    /** Tokens in document d. */
    long length(int doc);

    /** UTF-8 bytes of document d's original text (for bits per byte); its token count where there was no text. */
    long bytes(int doc);

    /** A stable identity of document d (a hash of its name), which the train/validation split is drawn from. */
    long nameHash(int doc);

    /** Copies tokens [from, from + len) of document d into dst[off ..]. */
    void read(int doc, long from, int[] dst, int off, int len);
}
