package brt4j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** brt train / eval on bad input: one sentence each, before any work (no run directory, no cache written). */
class TrainCommandTest {
    @TempDir Path tmp;

    String run(String... args) {
        StringWriter err = new StringWriter();
        var cl = Brt.commandLine();
        cl.setErr(new PrintWriter(err, true));
        int exit = cl.execute(args);
        assertEquals(2, exit, err.toString());
        String msg = err.toString().strip();
        assertFalse(msg.contains("\n"), "one line: " + msg);
        return msg;
    }

    @Test void badInputIsOneSentenceBeforeAnyWork() throws Exception {
        Path data = tmp.resolve("corpus.jsonl");
        Files.writeString(data, "{\"text\": \"hello world\"}\n{\"text\": \"another document\"}\n");
        Path cfg = tmp.resolve("c.json");
        Files.writeString(cfg, "{\"vocab_size\":260,\"d_model\":8,\"n_layers\":1,\"n_heads\":1,\"head_dim\":8,\"d_ff\":8,\"window\":4,\"segment\":10}");
        Path out = tmp.resolve("run");

        assertEquals("brt: data path " + tmp.resolve("nope") + " does not exist",
                run("train", "--config", "../configs/tiny-bytes.json", "--data", tmp.resolve("nope").toString(), "--out", out.toString()));
        assertTrue(run("train", "--config", cfg.toString(), "--data", data.toString(), "--out", out.toString())
                .endsWith("segment (10) must be a multiple of window (4)"));
        Files.writeString(cfg, "{\"vocab_size\":100,\"d_model\":8,\"n_layers\":1,\"n_heads\":1,\"head_dim\":8,\"d_ff\":8,\"window\":4,\"segment\":8}");
        assertTrue(run("train", "--config", cfg.toString(), "--data", data.toString(), "--out", out.toString())
                .contains("does not match the model config, whose vocab_size is 100"));
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        Files.writeString(empty.resolve("a.txt"), "");
        Files.writeString(cfg, "{\"vocab_size\":260,\"d_model\":8,\"n_layers\":1,\"n_heads\":1,\"head_dim\":8,\"d_ff\":8,\"window\":4,\"segment\":8}");
        assertTrue(run("train", "--config", cfg.toString(), "--data", empty.toString(), "--out", out.toString(), "--device", "cpu")
                .contains("empty corpus"));
        assertTrue(run("train", "--config", cfg.toString(), "--data", data.toString(), "--device", "tpu").contains("--device must be"));
        assertTrue(run("eval", "--checkpoint", tmp.resolve("nockpt").toString(), "--data", data.toString()).contains("no such checkpoint"));
        String[] ok = {"train", "--config", cfg.toString(), "--data", data.toString(), "--out", out.toString()};
        assertEquals("brt: --gpus runs one replica per CUDA GPU through NCCL; --device cpu is not CUDA", run(with(ok, "--gpus", "2", "--device", "cpu")));
        assertEquals("brt: --gpus must be at least 1, got 0", run(with(ok, "--gpus", "0")));
        assertEquals("brt: --nodes 2 needs --rendezvous host:port (node 0's address and a free port, the same on every node)",
                run(with(ok, "--gpus", "1", "--nodes", "2", "--node-rank", "1")));
        assertEquals("brt: --node-rank must be in 0..1, got 2", run(with(ok, "--gpus", "1", "--nodes", "2", "--node-rank", "2", "--rendezvous", "h:29500")));
        assertEquals("brt: --nodes, --node-rank and --rendezvous need --gpus (GPUs per host)", run(with(ok, "--rendezvous", "h:29500")));
        assertEquals("brt: --device cuda:1 picks one GPU; with --gpus 2 the replicas use cuda:0 .. cuda:1", run(with(ok, "--gpus", "2", "--device", "cuda:1")));
        assertTrue(run(with(ok, "--warmup", "-5")).endsWith("warmup must be >= 0, got -5"));
        assertEquals("brt: --threads must be >= 0 (0: all cores), got -2", run(with(ok, "--threads", "-2", "--device", "cpu")));
        assertEquals("brt: --probe-every must be positive, got 0", run("demo", "--out", out.toString(), "--probe-every", "0"));
        assertEquals("brt: a set to recall needs at least one item, got 0", run("demo", "--out", out.toString(), "--set", "0", "--device", "cpu"));
        assertEquals("brt: --max-segments must be >= 0 (0: every document to its end), got -1",
                run("eval", "--checkpoint", tmp.toString(), "--data", data.toString(), "--max-segments", "-1"));
        assertEquals("brt: --json " + tmp + " is a directory; give a file name",
                run("eval", "--checkpoint", tmp.toString(), "--data", data.toString(), "--json", tmp.toString()));
        Path aFile = Files.writeString(tmp.resolve("afile"), "");
        assertEquals("brt: " + aFile + ": already exists (a file where a directory was expected?)",
                run("train", "--config", cfg.toString(), "--data", data.toString(), "--out", aFile.toString(), "--device", "cpu"));
        assertTrue(run(with(ok, "--checkpoint-every", "-1")).contains("checkpoint-every must be >= 0"));
        assertTrue(run(with(ok, "--min-lr", "0.1", "--lr", "0.01")).contains("min-lr must be in [0, lr = 0.01], got 0.1"));
        // a low --lr alone is fine: min-lr follows it (lr / 10); the next error is the one intended
        assertTrue(run(with(ok, "--lr", "1e-5", "--warmup", "-1")).endsWith("warmup must be >= 0, got -1"));
        assertFalse(Files.exists(out), "nothing was written");
    }

    /** A resumed run continues identically with its saved options: one it would have to ignore is an error. */
    @Test void resumeRefusesOptionsItWouldIgnore() throws Exception {
        Path data = tmp.resolve("corpus.jsonl");
        Files.writeString(data, "{\"text\": \"hello world\"}\n");
        Path out = tmp.resolve("run");
        Files.createDirectories(out.resolve("checkpoint"));
        assertEquals("brt: --resume continues the run with the config and options saved in its checkpoint, so --config, --lr"
                        + " cannot be given (--steps can: the new total)",
                run("train", "--resume", "--out", out.toString(), "--data", data.toString(), "--config", "x.json", "--lr", "0.1",
                        "--steps", "50"));
    }

    /** Resuming a run that has reached its total, or past a smaller --steps, says so instead of doing nothing. */
    @Test void resumeAtOrPastItsTotalSaysWhatToPass() throws Exception {
        Path data = tmp.resolve("corpus.jsonl");
        Files.writeString(data, "{\"text\": \"hello world\"}\n");
        Path out = tmp.resolve("run"), ckpt = Files.createDirectories(out.resolve("checkpoint"));
        Files.copy(Path.of("../configs/tiny-bytes.json"), ckpt.resolve("config.json"));
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        var trainer = json.createObjectNode().put("step", 8);
        trainer.set("options", json.valueToTree(brt4j.train.TrainOptions.defaults().withSteps(8)));
        Files.writeString(ckpt.resolve("trainer.json"), trainer.toString());
        assertEquals("brt: the run in " + out + " has finished its 8 steps: pass --steps with a larger total to train further",
                run("train", "--resume", "--out", out.toString(), "--data", data.toString()));
        assertEquals("brt: the run in " + out + " is at step 8, so --steps 5 leaves nothing to train: pass a total above 8",
                run("train", "--resume", "--out", out.toString(), "--data", data.toString(), "--steps", "5"));
    }

    /** Running out of heap (a --batch far beyond it) ends in one sentence that says what to change, exit 3. */
    @Test void outOfHeapIsOneSentence() throws Exception {
        Path data = tmp.resolve("corpus.jsonl");
        Files.writeString(data, "{\"text\": \"hello world, a document\"}\n{\"text\": \"another document here\"}\n");
        Path javaBin = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(javaBin.toString(), "--add-modules", "jdk.incubator.vector", "-Xmx128m", "-XX:+UseParallelGC",
                "-cp", System.getProperty("java.class.path"), "brt4j.cli.Brt", "train", "--config", "../configs/tiny-bytes.json",
                "--data", data.toString(), "--out", tmp.resolve("run").toString(), "--steps", "1", "--batch", "50000", "--device", "cpu")
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        String err = new String(p.getErrorStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(3, p.waitFor(), err);
        assertTrue(err.contains("brt: out of Java heap memory (") && err.contains("lower --batch"), err);
        assertFalse(err.contains("OutOfMemoryError"), "no stack trace: " + err);
    }

    @Test void helpShowsTheDefaults() {
        StringWriter o = new StringWriter();
        var cl = Brt.commandLine();
        cl.setOut(new PrintWriter(o, true));
        assertEquals(0, cl.execute("train", "--help"));
        String help = o.toString().replaceAll("\\s+", " ");
        assertTrue(help.contains("(default: " + brt4j.train.TrainOptions.defaults().lr() + ")"), help);
        assertTrue(help.contains("optimizer steps of the whole run (default: " + brt4j.train.TrainOptions.defaults().steps()), help);
    }

    static String[] with(String[] a, String... more) {
        String[] r = java.util.Arrays.copyOf(a, a.length + more.length);
        System.arraycopy(more, 0, r, a.length, more.length);
        return r;
    }
}
