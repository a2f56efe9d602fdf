/**
 * SentencePiece-compatible tokenization: load any unigram or BPE {@code .model} file and get exactly the ids,
 * pieces and decoded text that SentencePiece 0.1.97 gives; train new models that SentencePiece loads.
 *
 * <h2>Entry points</h2>
 * <ul>
 *   <li>{@link brt4j.tokenizer.SentencePieceTokenizer}: load, encode (ids or pieces), decode; thread-safe;
 *       {@code encodeAll} for batches on all cores.</li>
 *   <li>{@link brt4j.tokenizer.LineStreamTokenizer}: line-by-line streams on N threads in bounded memory
 *       (what {@code brt tokenizer encode|decode} runs).</li>
 *   <li>{@link brt4j.tokenizer.Trainer}: unigram and BPE training from text files.</li>
 * </ul>
 *
 * <h2>Guarantees, and what is checked</h2>
 * Encoding and decoding are compared line by line with {@code spm_encode}/{@code spm_decode} (ReferenceComparisonTest)
 * across the five built-in normalizations, byte fallback, user-defined and control symbols, whitespace options and
 * edge-case text (combining marks, CJK, emoji, control characters, malformed UTF-8, a 100k-character line). Models
 * we train are loaded by {@code spm_encode} and compared the same way (TrainerTest).
 *
 * <h2>Honest notes</h2>
 * <ul>
 *   <li>Not implemented: sampling (subword regularization), n-best, WORD and CHAR model types, custom
 *       normalization_rule_tsv at training time, denormalization at decode time, and the extra options
 *       (bos/eos/reverse) of spm_encode.</li>
 *   <li>Piece texts are Java strings: a model whose piece bytes are not valid UTF-8 would be read with U+FFFD.</li>
 *   <li>Our trainers follow SentencePiece's algorithms but not its exact arithmetic, so they learn similar, not
 *       identical, vocabularies (compare by token counts on held-out text).</li>
 * </ul>
 */
package brt4j.tokenizer;
