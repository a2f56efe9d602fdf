package brt4j.data;

/**
 * What the data pipeline needs of a tokenizer: UTF-8 bytes in, token ids out. Id 0 is the padding id: the model's
 * loss mask ignores every position whose input or target is 0 (spec §1.10), so a tokenizer should not give real
 * text id 0 (T5's SentencePiece vocabulary reserves 0 for padding; a model whose id 0 is {@code <unk>} simply does
 * not learn to predict unknown pieces).
 */
public interface TextTokenizer {
    /** Ids are in [0, vocabSize). */
    int vocabSize();

    int[] encode(byte[] utf8);

    /** The UTF-8 bytes of ids decoded as one run; never throws on ids in [0, vocabSize). */
    byte[] decode(int[] ids);

    /** Changes whenever the ids of some text would change: part of the token cache's key. */
    String fingerprint();

    /** A short description for messages, e.g. "bytes" or "tokenizer.model (32000 pieces)". */
    String describe();
}
