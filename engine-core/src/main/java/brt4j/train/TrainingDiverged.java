package brt4j.train;

/** The loss or the gradient became NaN or infinite: the run stops, the last good checkpoint is kept. */
public final class TrainingDiverged extends IllegalStateException {
    public final long step;

    public TrainingDiverged(long step, String message) {
        super(message);
        this.step = step;
    }
}
