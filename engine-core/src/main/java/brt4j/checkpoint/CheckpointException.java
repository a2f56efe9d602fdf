package brt4j.checkpoint;

/**
 * A checkpoint file or directory that cannot be read or written, reported as one sentence that names the file and
 * the tensor or field at fault (for example {@code "run/ckpt/model.safetensors: tensor embed.weight has shape [97, 16],
 * expected [97, 32]"}). The message is meant to be shown to the user as is; the cause, when there is one, is the
 * underlying I/O or JSON error, kept for debugging only.
 *
 * <p>It extends {@link IllegalArgumentException} because the fault lies in the input the caller handed us (a path, a
 * file's bytes), not in this code.
 */
public final class CheckpointException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public CheckpointException(String message) {
        super(message);
    }

    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
