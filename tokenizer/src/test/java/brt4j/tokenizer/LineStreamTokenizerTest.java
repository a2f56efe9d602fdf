package brt4j.tokenizer;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Streams give one line out per line in, the same on any number of threads as encoding line by line. */
class LineStreamTokenizerTest {
    static final SentencePieceTokenizer MODEL = TokenizerFuzzTest.model(true, TrainerSpec.ModelType.UNIGRAM);

    static byte[] run(byte[] input, int threads, boolean encode, LineStreamTokenizer.Format format) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (LineStreamTokenizer s = new LineStreamTokenizer(MODEL, threads)) {
            if (encode) s.encode(new ByteArrayInputStream(input), out, format);
            else s.decode(new ByteArrayInputStream(input), out, format);
        }
        return out.toByteArray();
    }

    @Test
    void threadsAndBlocksDoNotChangeTheOutput() throws IOException {
        ByteArrayOutputStream in = new ByteArrayOutputStream();
        in.writeBytes(TestCorpus.edgeCases());
        // More than one block, and a last line without a newline.
        while (in.size() < LineStreamTokenizer.BLOCK_BYTES + 300_000) in.writeBytes(TestCorpus.prose(in.size(), 100_000).getBytes(StandardCharsets.UTF_8));
        in.writeBytes("last line".getBytes(StandardCharsets.UTF_8));
        byte[] input = in.toByteArray();

        StringBuilder expected = new StringBuilder();
        for (byte[] line : ReferenceComparisonTest.splitLines(input)) {
            expected.append(Arrays.stream(MODEL.encode(line)).mapToObj(Integer::toString).collect(Collectors.joining(" "))).append('\n');
        }
        byte[] one = run(input, 1, true, LineStreamTokenizer.Format.IDS);
        assertEquals(expected.toString(), new String(one, StandardCharsets.UTF_8));
        assertArrayEquals(one, run(input, 3, true, LineStreamTokenizer.Format.IDS));

        byte[] pieces = run(input, 2, true, LineStreamTokenizer.Format.PIECES);
        assertArrayEquals(run(one, 1, false, LineStreamTokenizer.Format.IDS), run(pieces, 2, false, LineStreamTokenizer.Format.PIECES));
    }

    @Test
    void emptyInputAndEmptyLines() throws IOException {
        assertEquals("", new String(run(new byte[0], 2, true, LineStreamTokenizer.Format.IDS), StandardCharsets.UTF_8));
        assertEquals("\n\n", new String(run("\n  \n".getBytes(StandardCharsets.UTF_8), 2, true, LineStreamTokenizer.Format.IDS), StandardCharsets.UTF_8));
    }

    @Test
    void batchEncodingMatchesOneByOne() {
        List<String> texts = TestCorpus.prose(5, 50_000).lines().toList();
        List<int[]> all = MODEL.encodeAll(texts);
        for (int i = 0; i < texts.size(); i++) assertArrayEquals(MODEL.encode(texts.get(i)), all.get(i));
    }
}
