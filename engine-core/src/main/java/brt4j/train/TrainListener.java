package brt4j.train;

import java.nio.file.Path;

/** What a trainer reports as it goes (the CLI draws a progress bar and plots from it; tests record it). */
public interface TrainListener {
    /** One optimizer step done (every step, whether or not it is logged). */
    record Step(long step, long steps, double loss, double bitsPerToken, double lr, double gradNorm, long tokens,
                double tokensPerSecond, double elapsedSeconds) {}

    record Validation(long step, double bitsPerToken, double bitsPerByte, long tokens) {}

    default void started(long step, long steps) {}

    default void step(Step s) {}

    default void validated(Validation v) {}

    default void checkpointed(long step, Path dir) {}

    default void message(String line) {}

    TrainListener NONE = new TrainListener() {};
}
