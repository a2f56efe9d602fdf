package brt4j.checkpoint;

import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The element types of the safetensors format, by their header spelling, with their sizes in bytes. Every one of
 * them can be read as raw bytes; {@link SafeTensors} converts the floating-point ones to float/double and the integer
 * ones to int/long. The sub-byte types of newer safetensors versions (F4, F6_*) are not supported and are reported as
 * unknown.
 */
public enum DType {
    BOOL(1, false),
    U8(1, false),
    I8(1, false),
    F8_E4M3(1, false),
    F8_E5M2(1, false),
    I16(2, false),
    U16(2, false),
    F16(2, true),
    BF16(2, true),
    I32(4, false),
    U32(4, false),
    F32(4, true),
    I64(8, false),
    U64(8, false),
    F64(8, true);

    private final int byteSize;
    private final boolean convertibleToFloat;

    DType(int byteSize, boolean convertibleToFloat) {
        this.byteSize = byteSize;
        this.convertibleToFloat = convertibleToFloat;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** Whether {@link SafeTensors#floats} and {@link SafeTensors#doubles} convert this type (F32, F16, BF16, F64). */
    public boolean isFloatingPoint() {
        return convertibleToFloat;
    }

    /** Whether {@link SafeTensors#ints} and {@link SafeTensors#longs} convert this type (BOOL, U8..U64, I8..I64). */
    public boolean isInteger() {
        return !convertibleToFloat && this != F8_E4M3 && this != F8_E5M2;
    }

    /** The type named {@code headerName} exactly as spelled in a safetensors header, if it is one we know. */
    public static Optional<DType> fromHeader(String headerName) {
        for (DType t : values()) {
            if (t.name().equals(headerName)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    static String supportedList() {
        return Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", "));
    }
}
