package brt4j.cli;

import brt4j.backend.cpu.CpuBackend;
import brt4j.data.ByteTokenizer;
import brt4j.model.BrtModel;
import brt4j.model.ModelCheckpoint;
import brt4j.model.ModelConfig;
import brt4j.model.Parameters;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GenerateCommandTest {
    @TempDir Path tmp;

    Path byteModel() { return byteModel(ByteTokenizer.VOCAB); }

    Path byteModel(int vocab) {
        ModelConfig c = new ModelConfig(vocab, 16, 2, 2, 8, 32, 4, 8, 4, new int[]{1},
                ModelConfig.Gate.FIXED, ModelConfig.StateFfn.SKIP, false, true, ModelConfig.LogitScale.NONE, 32, 128, 1e-6, 0, 0);
        Path dir = tmp.resolve("ckpt");
        ModelCheckpoint.save(dir, new BrtModel(Parameters.initialize(c, new CpuBackend(1), 3)));
        Tokenizers.save(new ByteTokenizer(), dir);     // as brt train leaves it
        return dir;
    }

    @Test
    void greedyGenerationIsReproducibleAndStreamsText() {
        Path dir = byteModel();
        var a = TraceCommandTest.brt("generate", "--checkpoint", dir.toString(), "--prompt", "Once upon a time", "--greedy", "--max-tokens", "40", "--device", "cpu");
        var b = TraceCommandTest.brt("generate", "--checkpoint", dir.toString(), "--prompt", "Once upon a time", "--greedy", "--max-tokens", "40", "--device", "cpu");
        assertEquals(0, a.exit(), a.err());
        assertEquals(a.out(), b.out());
        assertTrue(a.out().length() > 0);
        var sampled = TraceCommandTest.brt("generate", "--checkpoint", dir.toString(), "--prompt", "x", "--seed", "4", "--max-tokens", "30",
                "--top-k", "20", "--temperature", "1.2", "--device", "cpu", "--stats", "--int8");
        assertEquals(0, sampled.exit(), sampled.err());
    }

    /** A reader that goes away (generate | head) ends the generation instead of leaving it to run to --max-tokens. */
    @Test
    void generationStopsWhenItsOutputIsClosed() {
        Path dir = byteModel();
        java.io.PrintStream oldOut = System.out, oldErr = System.err;
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        int[] written = {0};
        try {
            System.setOut(new java.io.PrintStream(new java.io.OutputStream() {
                @Override public void write(int b) throws java.io.IOException {
                    if (++written[0] > 8) throw new java.io.IOException("Broken pipe");
                }
            }, true));
            System.setErr(new java.io.PrintStream(err, true));
            int exit = Brt.commandLine().execute("generate", "--checkpoint", dir.toString(), "--prompt", "Once", "--greedy",
                    "--max-tokens", "5000", "--device", "cpu", "--stats");
            assertEquals(0, exit);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        var m = java.util.regex.Pattern.compile("generated: (\\d+) tokens").matcher(err.toString());
        assertTrue(m.find(), err.toString());
        assertTrue(Integer.parseInt(m.group(1)) < 100, "stopped soon after the output closed: " + m.group(0));
    }

    /** --checkpoint may name the run directory that brt train wrote (its checkpoint/ inside), as brt eval's does. */
    @Test
    void aRunDirectoryNamesItsCheckpoint() throws Exception {
        Path ckpt = byteModel();
        Path run = Files.createDirectories(tmp.resolve("run"));
        Files.move(ckpt, run.resolve(brt4j.train.Trainer.CHECKPOINT));
        var viaRun = TraceCommandTest.brt("generate", "--checkpoint", run.toString(), "--prompt", "Once", "--greedy", "--max-tokens", "12", "--device", "cpu");
        var direct = TraceCommandTest.brt("generate", "--checkpoint", run.resolve(brt4j.train.Trainer.CHECKPOINT).toString(), "--prompt", "Once",
                "--greedy", "--max-tokens", "12", "--device", "cpu");
        assertEquals(0, viaRun.exit(), viaRun.err());
        assertEquals(direct.out(), viaRun.out());
    }

    /** configs/laptop-bytes.json pads the byte vocabulary to 260, as the paper does; the saved tokenizer still decodes. */
    @Test
    void threadsAreHonouredAndDoNotChangeTheText() {
        Path dir = byteModel();
        var one = TraceCommandTest.brt("generate", "--checkpoint", dir.toString(), "--prompt", "Once upon a time", "--greedy", "--max-tokens", "40", "--device", "cpu", "--threads", "1");
        var two = TraceCommandTest.brt("generate", "--checkpoint", dir.toString(), "--prompt", "Once upon a time", "--greedy", "--max-tokens", "40", "--device", "cpu", "--threads", "2");
        assertEquals(0, one.exit(), one.err());
        assertEquals(0, two.exit(), two.err());
        assertEquals(one.out(), two.out());   // forward kernels' bits do not depend on the thread count
    }

    @Test
    void aPaddedByteVocabularyGeneratesToo() {
        Path dir = byteModel(ByteTokenizer.VOCAB + 1);
        var r = TraceCommandTest.brt("generate", "--checkpoint", dir.toString(), "--prompt", "abc", "--greedy", "--max-tokens", "10", "--device", "cpu");
        assertEquals(0, r.exit(), r.err());
    }

    @Test
    void interactiveKeepsTheStateBetweenTurns() {
        Path dir = byteModel();
        InputStream old = System.in;
        try {
            System.setIn(new ByteArrayInputStream("hello\nand again\n".getBytes(StandardCharsets.UTF_8)));
            var r = TraceCommandTest.brt("generate", "--checkpoint", dir.toString(), "--interactive", "--greedy", "--max-tokens", "5", "--device", "cpu");
            assertEquals(0, r.exit(), r.err());
            assertEquals(4, r.out().split("> ", -1).length, r.out());   // two answered turns, then end of input
        } finally {
            System.setIn(old);
        }
    }

    @Test
    void badInputGetsOneSentence() throws Exception {
        Path dir = byteModel();
        var none = TraceCommandTest.brt("generate", "--checkpoint", dir.toString(), "--device", "cpu");
        assertEquals(2, none.exit());
        assertTrue(none.err().contains("exactly one of --prompt"), none.err());
        var missing = TraceCommandTest.brt("generate", "--checkpoint", tmp.resolve("nope").toString(), "--prompt", "a", "--device", "cpu");
        assertEquals(2, missing.exit());
        assertTrue(missing.err().contains("no such checkpoint directory"), missing.err());
        Files.writeString(dir.resolve("config.json"), Files.readString(dir.resolve("config.json")).replace("\"vocab_size\" : 259", "\"vocab_size\" : 300"));
        var wrongVocab = TraceCommandTest.brt("generate", "--checkpoint", dir.toString(), "--prompt", "a", "--device", "cpu");
        assertEquals(2, wrongVocab.exit());
        assertTrue(wrongVocab.err().contains("embed.weight"), wrongVocab.err());
    }
}
