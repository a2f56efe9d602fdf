package brt4j.checkpoint;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Test helper run in a separate JVM by {@link CheckpointCrashTest}: commits checkpoints of ever higher step to the
 * directory given as args[0], forever, each with a large model file (args[1] floats) whose every value is the step,
 * printing "committed N" after each commit; it resumes after the step of the checkpoint it finds. The test kills it
 * at a random moment.
 */
public final class CrashLoopWriter {
    private CrashLoopWriter() {}

    public static void main(String[] args) throws IOException {
        Path target = Path.of(args[0]);
        int floats = Integer.parseInt(args[1]);
        float[] values = new float[floats];
        int resumeFrom = 0;
        if (CheckpointDirectory.recover(target)) { // resume like a training run: after the last good checkpoint
            try (SafeTensors last = SafeTensors.open(target.resolve("model.safetensors"))) {
                resumeFrom = last.ints("step")[0];
            }
        }
        for (int step = resumeFrom + 1; ; step++) {
            Arrays.fill(values, step);
            try (CheckpointDirectory staging = CheckpointDirectory.begin(target)) {
                new SafeTensorsWriter().metadata("step", Integer.toString(step)).addI32("step", new int[] {step})
                        .addF32("weights", values, 4, floats / 4).write(staging.dir().resolve("model.safetensors"));
                writeTrainer(staging.dir(), step);
                staging.commit();
            }
            System.out.println("committed " + step);
            System.out.flush();
        }
    }

    private static void writeTrainer(Path dir, int step) {
        try {
            Files.writeString(dir.resolve("trainer.json"), "{\"step\": " + step + "}");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
