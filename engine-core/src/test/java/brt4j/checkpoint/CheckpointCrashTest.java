package brt4j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kills a separate JVM with SIGKILL (destroyForcibly) while it writes checkpoints in a loop, several times at random
 * moments, and checks after each kill that the checkpoint is complete and consistent (model and trainer state of the
 * same step, every model value equal to that step, not older than the last step the writer reported committed).
 */
class CheckpointCrashTest {
    /** 2M floats = 8 MB per model file: large enough that a kill often lands mid-write. */
    private static final int FLOATS = 2 << 20;
    private static final int ROUNDS = 3;

    @TempDir
    Path run;

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void killedWriterLeavesALoadableCheckpoint() throws Exception {
        Path target = run.resolve("ckpt");
        SplittableRandom rnd = new SplittableRandom(11);
        int lastSeen = 0;
        int killsMidCommit = 0;
        for (int round = 0; round < ROUNDS; round++) {
            Process p = startWriter(target);
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String line = out.readLine(); // wait until at least one commit of this process
            assertNotNull(line, "the writer process died before its first commit");
            // Keep reading its reports while it runs (destroyForcibly closes the stream, ending the thread).
            AtomicInteger reported = new AtomicInteger(parseCommitted(line));
            Thread reader = Thread.ofVirtual().start(() -> {
                try {
                    for (String l; (l = out.readLine()) != null; ) reported.set(parseCommitted(l));
                } catch (IOException closed) {
                    // The process was killed.
                }
            });
            Thread.sleep(rnd.nextInt(50, 600));
            int committed = reported.get(); // at least this many commits finished before the kill
            p.destroyForcibly();
            assertTrue(p.waitFor(10, TimeUnit.SECONDS));
            reader.join(5000);

            List<String> left = siblings();
            if (left.size() > 1) killsMidCommit++;
            System.out.println("kill " + round + ": " + committed + " commits reported, left " + left);
            // A reader that changes nothing finds a complete checkpoint...
            int located = CheckpointDirectoryTest.stepOf(CheckpointDirectory.locate(target));
            // ... and recovery settles on the same one or, only when the kill came between the two renames, the
            // same one from .old (locate already prefers the main directory, so these agree).
            assertTrue(CheckpointDirectory.recover(target));
            int step = CheckpointDirectoryTest.stepOf(target);
            assertEquals(located, step);
            assertTrue(step >= committed, "step " + step + " is older than the reported commit " + committed);
            checkAllValues(target, step);
            assertEquals(List.of("ckpt"), siblings(), "recovery cleans up");
            assertTrue(step >= lastSeen);
            lastSeen = step;
        }
        // Not asserted (timing-dependent), but shows that the kills do land mid-write.
        System.out.println(killsMidCommit + " of " + ROUNDS + " kills left a temporary or .old directory behind");
    }

    private static int parseCommitted(String line) {
        return Integer.parseInt(line.substring("committed ".length()));
    }

    private Process startWriter(Path target) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // Surefire puts the real test class path here; java.class.path may be a manifest-only jar, which also works.
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp", cp,
                CrashLoopWriter.class.getName(), target.toString(), Integer.toString(FLOATS)));
        return new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    private static void checkAllValues(Path dir, int step) {
        try (SafeTensors st = SafeTensors.open(dir.resolve("model.safetensors"))) {
            assertEquals(Integer.toString(step), st.metadata().get("step"));
            float[] w = st.floats("weights");
            assertEquals(FLOATS, w.length);
            for (float v : w) {
                if (v != step) {
                    assertEquals((float) step, v, "every model value comes from the same commit");
                }
            }
        }
    }

    private List<String> siblings() throws Exception {
        try (Stream<Path> s = Files.list(run)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
