package brt4j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The commit protocol of CheckpointDirectory, and recovery from a crash at each point of it, simulated by building
 * the directories a crash would leave.
 */
class CheckpointDirectoryTest {
    @TempDir
    Path run;

    private Path ckpt() {
        return run.resolve("ckpt");
    }

    /** Writes a checkpoint whose two files both carry {@code step}, via the real commit path. */
    private void commitStep(int step) {
        try (CheckpointDirectory staging = CheckpointDirectory.begin(ckpt())) {
            fill(staging.dir(), step);
            staging.commit();
        }
    }

    private static void fill(Path dir, int step) {
        try {
            Files.writeString(dir.resolve("trainer.json"), "{\"step\": " + step + "}");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        new SafeTensorsWriter().addI32("step", new int[] {step}).write(dir.resolve("model.safetensors"));
    }

    /** The step a checkpoint directory holds, checking that its two files agree. */
    static int stepOf(Path dir) throws IOException {
        String json = Files.readString(dir.resolve("trainer.json"));
        int step = Integer.parseInt(json.replaceAll("\\D", ""));
        try (SafeTensors st = SafeTensors.open(dir.resolve("model.safetensors"))) {
            assertEquals(step, st.ints("step")[0], "model and trainer state come from the same commit");
        }
        return step;
    }

    private List<String> siblings() throws IOException {
        try (Stream<Path> s = Files.list(run)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void firstCommitThenReplacement() throws Exception {
        commitStep(1);
        assertEquals(1, stepOf(ckpt()));
        commitStep(2);
        assertEquals(2, stepOf(ckpt()));
        assertEquals(List.of("ckpt"), siblings());
    }

    @Test
    void closingWithoutCommitDiscardsTheNewCheckpoint() throws Exception {
        commitStep(1);
        try (CheckpointDirectory staging = CheckpointDirectory.begin(ckpt())) {
            fill(staging.dir(), 2);
            assertTrue(staging.dir().getFileName().toString().startsWith("ckpt.tmp-"));
        }
        assertEquals(1, stepOf(ckpt()));
        assertEquals(List.of("ckpt"), siblings());
    }

    @Test
    void commitTwiceIsAProgrammingError() {
        try (CheckpointDirectory staging = CheckpointDirectory.begin(ckpt())) {
            fill(staging.dir(), 1);
            staging.commit();
            assertThrows(IllegalStateException.class, staging::commit);
        }
    }

    @Test
    void crashWhileFillingTheTemporaryDirectory() throws Exception {
        commitStep(1);
        Path tmp = Files.createDirectory(run.resolve("ckpt.tmp-123"));
        Files.writeString(tmp.resolve("trainer.json"), "{\"st"); // half-written
        assertTrue(CheckpointDirectory.recover(ckpt()));
        assertEquals(1, stepOf(ckpt()));
        assertEquals(List.of("ckpt"), siblings());
    }

    @Test
    void crashBetweenTheTwoRenamesRestoresTheOldCheckpoint() throws Exception {
        commitStep(1);
        Files.move(ckpt(), run.resolve("ckpt.old")); // step 1 done
        Path tmp = Files.createDirectory(run.resolve("ckpt.tmp-456"));
        fill(tmp, 2); // complete but never renamed
        assertEquals(run.resolve("ckpt.old"), CheckpointDirectory.locate(ckpt()), "readers find it without recovery");
        assertTrue(CheckpointDirectory.exists(ckpt()), "and see that there is one");
        assertTrue(CheckpointDirectory.recover(ckpt()));
        assertEquals(1, stepOf(ckpt()));
        assertEquals(List.of("ckpt"), siblings());
    }

    @Test
    void crashWhileDeletingTheOldCheckpointFinishesTheDeletion() throws Exception {
        commitStep(1);
        Files.move(ckpt(), run.resolve("ckpt.old"));
        Files.delete(run.resolve("ckpt.old").resolve("trainer.json")); // partly deleted
        Path tmp = Files.createDirectory(run.resolve("ckpt.tmp-789"));
        fill(tmp, 2);
        Files.move(tmp, ckpt()); // step 2 done
        assertEquals(ckpt(), CheckpointDirectory.locate(ckpt()));
        assertTrue(CheckpointDirectory.recover(ckpt()));
        assertEquals(2, stepOf(ckpt()));
        assertEquals(List.of("ckpt"), siblings());
    }

    @Test
    void beginRecoversBeforeWriting() throws Exception {
        commitStep(1);
        Files.move(ckpt(), run.resolve("ckpt.old"));
        try (CheckpointDirectory staging = CheckpointDirectory.begin(ckpt())) {
            assertEquals(1, stepOf(ckpt()));
            fill(staging.dir(), 2);
            staging.commit();
        }
        assertEquals(2, stepOf(ckpt()));
        assertEquals(List.of("ckpt"), siblings());
    }

    @Test
    void recoveryLeavesOtherCheckpointsAndFilesAlone() throws Exception {
        commitStep(1);
        Files.createDirectory(run.resolve("ckpt2.tmp-1"));
        Files.createDirectory(run.resolve("other"));
        Files.writeString(run.resolve("ckpt.txt"), "notes");
        assertTrue(CheckpointDirectory.recover(ckpt()));
        assertEquals(List.of("ckpt", "ckpt.txt", "ckpt2.tmp-1", "other"), siblings());
    }

    @Test
    void nothingToRecoverAndNothingToLocate() throws Exception {
        assertFalse(CheckpointDirectory.recover(ckpt()));
        assertEquals(List.of(), siblings());
        assertFalse(CheckpointDirectory.exists(ckpt()));
        CheckpointException e = assertThrows(CheckpointException.class, () -> CheckpointDirectory.locate(ckpt()));
        assertEquals(ckpt() + ": no such checkpoint directory", e.getMessage());
    }

    @Test
    void commitCreatesMissingParentFolders() throws Exception {
        Path nested = run.resolve("a").resolve("b").resolve("ckpt");
        try (CheckpointDirectory staging = CheckpointDirectory.begin(nested)) {
            fill(staging.dir(), 3);
            staging.commit();
        }
        assertEquals(3, stepOf(nested));
    }
}
