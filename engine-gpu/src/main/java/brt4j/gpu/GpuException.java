package brt4j.gpu;

/** A GPU error a user can act on (no driver, a kernel that does not compile, out of memory): the message says what. */
public class GpuException extends IllegalStateException {
    public GpuException(String message) { super(message); }

    public GpuException(String message, Throwable cause) { super(message, cause); }

    /** A native call: {@code MethodHandle.invokeExact} is declared to throw anything. */
    @FunctionalInterface
    public interface NativeCall { void run() throws Throwable; }

    /**
     * Runs {@code call}: a GpuException (a failed status, already worded) passes through; anything else thrown on the
     * way becomes one whose message is {@code prefix} and what was thrown.
     */
    public static void wrap(String prefix, NativeCall call) {
        try {
            call.run();
        } catch (GpuException e) {
            throw e;
        } catch (Throwable t) {
            throw new GpuException(prefix + t, t);
        }
    }
}
