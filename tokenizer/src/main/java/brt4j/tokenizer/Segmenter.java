package brt4j.tokenizer;

/** Splits normalized text into pieces: unigram Viterbi or BPE merges. Implementations are thread-safe. */
interface Segmenter {
    /** Segments {@code normalized[0, length)} into {@code out} (cleared first), using {@code scratch} for state. */
    void segment(byte[] normalized, int length, EncoderScratch scratch, Segmentation out);
}
