package brt4j.gpu;

/** A GPU error a user can act on (no driver, a kernel that does not compile, out of memory): the message says what. */
public class GpuException extends IllegalStateException {
    public GpuException(String message) { super(message); }

    public GpuException(String message, Throwable cause) { super(message, cause); }
}
