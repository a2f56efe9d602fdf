package brt4j.train;

import brt4j.backend.Backend;
import brt4j.model.BrtModel;
import brt4j.model.ModelCheckpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Kills (SIGKILL) a training process that writes a checkpoint after every step, at random moments, several times;
 * after each kill the checkpoint must load, be no older than the last one reported committed, and resume.
 */
class TrainCrashTest {
    @TempDir Path run;

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void aKilledRunLeavesALoadableCheckpointThatResumes() throws Exception {
        SplittableRandom rnd = new SplittableRandom(5);
        Backend be = TrainFixtures.backend();
        long previous = 0;
        for (int round = 0; round < 3; round++) {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
            List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector", "-Xmx256m", "-XX:TieredStopAtLevel=1",
                    "-cp", cp, CrashChild.class.getName(), run.toString()));
            Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String first = out.readLine();
            assertNotNull(first, "the training process died before its first checkpoint");
            AtomicLong reported = new AtomicLong(Long.parseLong(first.split(" ")[1]));
            assertTrue(reported.get() > previous, "round " + round + " resumed from step " + previous);
            Thread reader = Thread.ofVirtual().start(() -> {
                try {
                    for (String l; (l = out.readLine()) != null; ) reported.set(Long.parseLong(l.split(" ")[1]));
                } catch (Exception killed) {
                    // the process was killed
                }
            });
            Thread.sleep(rnd.nextInt(100, 700));
            long committed = reported.get();
            p.destroyForcibly();
            assertTrue(p.waitFor(10, TimeUnit.SECONDS));
            reader.join(2000);

            Path ck = run.resolve(Trainer.CHECKPOINT);
            BrtModel m = ModelCheckpoint.load(ck, be);
            Trainer t = new Trainer(m, Trainer.options(ck), TrainFixtures.randomDocs(12, 3), run, null, null);
            t.restore(ck);
            assertTrue(t.step() >= committed, "checkpoint at step " + t.step() + " is older than the committed " + committed);
            previous = t.step();
        }
    }
}
