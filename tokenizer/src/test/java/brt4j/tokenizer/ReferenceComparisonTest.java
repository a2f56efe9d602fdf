package brt4j.tokenizer;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Our ids, pieces and decodes against the real SentencePiece, line by line, for models spm_train makes with a range
 * of options, on the edge-case lines and on held-out prose.
 */
class ReferenceComparisonTest {
    @TempDir
    static Path dir;
    static Path corpus, input;

    @BeforeAll
    static void writeCorpus() throws IOException {
        corpus = dir.resolve("corpus.txt");
        Files.writeString(corpus, TestCorpus.prose(1, 250_000));
        input = dir.resolve("input.txt");
        ByteArrayOutputStream in = new ByteArrayOutputStream();
        in.writeBytes(TestCorpus.edgeCases());
        in.writeBytes(TestCorpus.prose(2, 30_000).getBytes(StandardCharsets.UTF_8));
        Files.write(input, in.toByteArray());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
            "--model_type=unigram --vocab_size=600",
            "--model_type=bpe --vocab_size=600",
            "--model_type=unigram --vocab_size=400 --normalization_rule_name=nfkc",
            "--model_type=bpe --vocab_size=400 --normalization_rule_name=nmt_nfkc_cf",
            "--model_type=unigram --vocab_size=400 --normalization_rule_name=nfkc_cf",
            "--model_type=unigram --vocab_size=400 --normalization_rule_name=identity",
            "--model_type=unigram --vocab_size=600 --byte_fallback=true --character_coverage=0.99",
            "--model_type=bpe --vocab_size=600 --byte_fallback=true --character_coverage=0.99",
            "--model_type=unigram --vocab_size=500 --user_defined_symbols=<sep>,ＡＢ,@@,▁the,e\u0301 --control_symbols=<cls>,<mask>",
            "--model_type=bpe --vocab_size=500 --user_defined_symbols=<sep>,ＡＢ,@@,the --control_symbols=<cls>",
            "--model_type=unigram --vocab_size=500 --treat_whitespace_as_suffix=true",
            "--model_type=bpe --vocab_size=500 --treat_whitespace_as_suffix=true",
            "--model_type=unigram --vocab_size=500 --split_digits=true",
            "--model_type=bpe --vocab_size=500 --split_digits=true",
            "--model_type=unigram --vocab_size=500 --add_dummy_prefix=false --remove_extra_whitespaces=false",
            "--model_type=bpe --vocab_size=500 --remove_extra_whitespaces=false",
            "--model_type=unigram --vocab_size=500 --add_dummy_prefix=false",
            "--model_type=unigram --vocab_size=500 --split_by_whitespace=false",
            "--model_type=bpe --vocab_size=500 --split_by_whitespace=false --allow_whitespace_only_pieces=true",
            "--model_type=unigram --vocab_size=500 --unk_id=3 --bos_id=-1 --eos_id=1 --pad_id=0 --unk_surface=<UNK>",
    })
    void matchesSentencePiece(String options) throws IOException {
        SpmTools.assumeInstalled();
        Path model = SpmTools.train(dir, corpus, "m" + Integer.toHexString(options.hashCode()), options.split(" "));
        compareWithReference(model, input, dir);
    }

    /** Compares ids, pieces and the decode of spm's ids for every line of {@code input}. */
    static void compareWithReference(Path model, Path input, Path workDir) throws IOException {
        SentencePieceTokenizer ours = SentencePieceTokenizer.load(model);
        List<byte[]> lines = splitLines(Files.readAllBytes(input));
        List<byte[]> spmIds = splitLines(SpmTools.encode(model, input, "id", workDir));
        List<byte[]> spmPieces = splitLines(SpmTools.encode(model, input, "piece", workDir));
        List<byte[]> spmDecoded = splitLines(SpmTools.decodeIds(model, workDir.resolve("spm.id"), workDir));
        check(lines.size() == spmIds.size() && lines.size() == spmPieces.size() && lines.size() == spmDecoded.size(),
                "line counts differ", model, -1, new byte[0]);
        for (int i = 0; i < lines.size(); i++) {
            byte[] line = lines.get(i);
            int[] ids = ours.encode(line);
            String expectedIds = new String(spmIds.get(i), StandardCharsets.UTF_8);
            String actualIds = String.join(" ", Arrays.stream(ids).mapToObj(Integer::toString).toList());
            check(expectedIds.equals(actualIds), "ids\n  spm:  " + expectedIds + "\n  ours: " + actualIds, model, i, line);
            String expectedPieces = new String(spmPieces.get(i), StandardCharsets.UTF_8);
            String actualPieces = String.join(" ", ours.encodeAsPieces(line));
            check(expectedPieces.equals(actualPieces), "pieces\n  spm:  " + expectedPieces + "\n  ours: " + actualPieces, model, i, line);
            int[] spmIdArray = expectedIds.isEmpty() ? new int[0]
                    : Arrays.stream(expectedIds.split(" ")).mapToInt(Integer::parseInt).toArray();
            byte[] decoded = ours.decodeToBytes(spmIdArray);
            check(Arrays.equals(spmDecoded.get(i), decoded), "decode\n  spm:  " + new String(spmDecoded.get(i), StandardCharsets.UTF_8)
                    + "\n  ours: " + new String(decoded, StandardCharsets.UTF_8), model, i, line);
        }
    }

    private static void check(boolean ok, String what, Path model, int line, byte[] text) {
        if (ok) return;
        String shown = new String(text, StandardCharsets.UTF_8);
        if (shown.length() > 200) shown = shown.substring(0, 200) + "...";
        fail(model.getFileName() + " line " + (line + 1) + " [" + shown + "]: " + what);
    }

    /** Splits on '\n' as std::getline does: no empty line after a final newline. */
    static List<byte[]> splitLines(byte[] all) {
        List<byte[]> lines = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < all.length; i++) {
            if (all[i] == '\n') {
                lines.add(Arrays.copyOfRange(all, start, i));
                start = i + 1;
            }
        }
        if (start < all.length) lines.add(Arrays.copyOfRange(all, start, all.length));
        return lines;
    }
}
