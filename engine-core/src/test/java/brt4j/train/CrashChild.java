package brt4j.train;

import brt4j.backend.Backend;
import brt4j.model.BrtModel;
import brt4j.model.ModelCheckpoint;
import brt4j.model.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The process {@link TrainCrashTest} kills: trains with a checkpoint after every step (resuming the run in args[0]
 * if it holds one) and prints "checkpoint N" after each commit.
 */
public final class CrashChild {
    public static void main(String[] args) {
        Path run = Path.of(args[0]);
        Backend be = TrainFixtures.backend();
        TrainOptions o = TrainFixtures.options("adamw", 1_000_000, 1);
        Path ck = run.resolve(Trainer.CHECKPOINT);
        boolean resume = Files.isDirectory(ck) || Files.isDirectory(run.resolve(Trainer.CHECKPOINT + ".old"));
        BrtModel m = resume ? ModelCheckpoint.load(ck, be) : new BrtModel(Parameters.initialize(TrainFixtures.bigConfig(), be, 1));
        Trainer t = new Trainer(m, o, TrainFixtures.randomDocs(12, 3), run, new TrainListener() {
            @Override public void checkpointed(long step, Path dir) {
                System.out.println("checkpoint " + step);
                System.out.flush();
            }
        }, null);
        if (resume) t.restore(ck);
        t.run();
    }
}
