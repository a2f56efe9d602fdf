package brt4j.tokenizer;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Models we train: SentencePiece loads them and encodes as we do, and they compress about as well as its own. */
class TrainerTest {
    @TempDir
    static Path dir;
    static Path corpus, heldOut, input;

    @BeforeAll
    static void writeCorpus() throws IOException {
        corpus = dir.resolve("corpus.txt");
        Files.writeString(corpus, TestCorpus.prose(11, 120_000));
        heldOut = dir.resolve("heldout.txt");
        Files.writeString(heldOut, TestCorpus.prose(12, 20_000));
        input = dir.resolve("input.txt");
        Files.write(input, TestCorpus.edgeCases());
    }

    static TrainerSpec spec(String options) {
        TrainerSpec spec = new TrainerSpec();
        spec.numThreads = 2;
        for (String option : options.split(" ")) {
            String[] kv = option.replaceFirst("^--", "").split("=", 2);
            switch (kv[0]) {
                case "model_type" -> spec.modelType = TrainerSpec.ModelType.valueOf(kv[1].toUpperCase());
                case "vocab_size" -> spec.vocabSize = Integer.parseInt(kv[1]);
                case "byte_fallback" -> spec.byteFallback = Boolean.parseBoolean(kv[1]);
                case "character_coverage" -> spec.characterCoverage = Float.parseFloat(kv[1]);
                case "user_defined_symbols" -> spec.userDefinedSymbols = new ArrayList<>(List.of(kv[1].split(",")));
                case "control_symbols" -> spec.controlSymbols = new ArrayList<>(List.of(kv[1].split(",")));
                case "split_digits" -> spec.splitDigits = Boolean.parseBoolean(kv[1]);
                case "split_by_whitespace" -> spec.splitByWhitespace = Boolean.parseBoolean(kv[1]);
                case "treat_whitespace_as_suffix" -> spec.treatWhitespaceAsSuffix = Boolean.parseBoolean(kv[1]);
                case "normalization_rule_name" -> { }
                default -> throw new IllegalArgumentException(option);
            }
        }
        return spec;
    }

    static String rule(String options) {
        for (String o : options.split(" ")) if (o.startsWith("--normalization_rule_name=")) return o.split("=", 2)[1];
        return "nmt_nfkc";
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
            "--model_type=unigram --vocab_size=700 --byte_fallback=true --character_coverage=0.98 --normalization_rule_name=nfkc_cf",
            "--model_type=bpe --vocab_size=700 --byte_fallback=true --character_coverage=0.98",
            "--model_type=unigram --vocab_size=600 --user_defined_symbols=<sep>,@@,▁the --control_symbols=<cls> --split_digits=true",
            "--model_type=bpe --vocab_size=600 --user_defined_symbols=<sep>,@@ --split_digits=true --normalization_rule_name=identity",
            "--model_type=unigram --vocab_size=600 --treat_whitespace_as_suffix=true",
            "--model_type=bpe --vocab_size=600 --split_by_whitespace=false",
    })
    void sentencePieceLoadsOurModelsAndAgrees(String options) throws IOException {
        Path model = dir.resolve("ours" + Integer.toHexString(options.hashCode()) + ".model");
        ModelProto proto = Trainer.trainToFile(List.of(corpus), spec(options), rule(options), model, ProgressBar.silent());
        assertEquals(spec(options).vocabSize, proto.pieces.size());
        SpmTools.assumeInstalled();
        ReferenceComparisonTest.compareWithReference(model, input, dir);
        ReferenceComparisonTest.compareWithReference(model, heldOut, dir);
    }

    @Test
    void compressesAboutAsWellAsSentencePiece() throws IOException {
        SpmTools.assumeInstalled();
        for (String type : List.of("unigram", "bpe")) {
            String options = "--model_type=" + type + " --vocab_size=1000";
            Path ours = dir.resolve("cmp-" + type + ".model");
            Trainer.trainToFile(List.of(corpus), spec(options), "nmt_nfkc", ours, ProgressBar.silent());
            Path theirs = SpmTools.train(dir, corpus, "spm-" + type, options.split(" "));
            long ourTokens = tokens(ours), spmTokens = tokens(theirs);
            assertTrue(ourTokens < spmTokens * 1.05, type + ": our model needs " + ourTokens
                    + " tokens on held-out text, SentencePiece's " + spmTokens);
        }
    }

    private static long tokens(Path model) throws IOException {
        SentencePieceTokenizer t = SentencePieceTokenizer.load(model);
        long n = 0;
        for (String line : Files.readAllLines(heldOut)) n += t.encode(line).length;
        return n;
    }

    @Test
    void rejectsImpossibleOptionsWithOneSentence() {
        IllegalArgumentException tooSmall = assertThrows(IllegalArgumentException.class, () ->
                Trainer.train(List.of(corpus), spec("--model_type=unigram --vocab_size=20"), "nmt_nfkc", ProgressBar.silent()));
        assertTrue(tooSmall.getMessage().contains("Vocabulary size 20"), tooSmall.getMessage());
        IllegalArgumentException badRule = assertThrows(IllegalArgumentException.class, () ->
                Trainer.train(List.of(corpus), spec("--model_type=bpe --vocab_size=500"), "nfd", ProgressBar.silent()));
        assertTrue(badRule.getMessage().contains("nfd"), badRule.getMessage());
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () ->
                Trainer.train(List.of(dir.resolve("nope.txt")), spec("--model_type=bpe --vocab_size=500"), "nmt_nfkc", ProgressBar.silent()));
        assertTrue(missing.getMessage().contains("nope.txt"), missing.getMessage());
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class, () ->
                Trainer.train(List.of(corpus), spec("--model_type=unigram --vocab_size=0"), "nmt_nfkc", ProgressBar.silent()));
        assertEquals("The vocabulary size must be positive, got 0.", none.getMessage());
    }

    @Test
    void trainingIsDeterministic() throws IOException {
        for (String type : List.of("unigram", "bpe")) {
            TrainerSpec spec = spec("--model_type=" + type + " --vocab_size=500");
            spec.maxSentencepieceLength = 8;
            byte[] a = Trainer.train(List.of(corpus), spec, "nmt_nfkc", ProgressBar.silent()).toByteArray();
            TrainerSpec again = spec("--model_type=" + type + " --vocab_size=500");
            again.maxSentencepieceLength = 8;
            byte[] b = Trainer.train(List.of(corpus), again, "nmt_nfkc", ProgressBar.silent()).toByteArray();
            assertTrue(Arrays.equals(a, b), type + " training gave two different models");
        }
    }
}
