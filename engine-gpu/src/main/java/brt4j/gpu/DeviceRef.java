package brt4j.gpu;

/** A device a backend can be opened on, as listed by its platform. */
public interface DeviceRef {
    String describe();
}
