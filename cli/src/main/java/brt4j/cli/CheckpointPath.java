package brt4j.cli;

import brt4j.checkpoint.CheckpointDirectory;
import brt4j.model.ModelCheckpoint;
import brt4j.train.Trainer;

import java.nio.file.Files;
import java.nio.file.Path;

/** What a {@code --checkpoint} option names: a checkpoint directory, or a run directory holding one. */
final class CheckpointPath {
    static final String DESCRIPTION = "checkpoint directory (a run's checkpoint/, or the run directory)";

    private CheckpointPath() {}

    /** {@code given}, or its {@code checkpoint/} when {@code given} is a run directory rather than a checkpoint. */
    static Path resolve(Path given) {
        boolean isCheckpoint = Files.isRegularFile(CheckpointDirectory.locate(given).resolve(ModelCheckpoint.CONFIG));
        Path inRun = given.resolve(Trainer.CHECKPOINT);
        return !isCheckpoint && CheckpointDirectory.exists(inRun) ? inRun : given;
    }
}
