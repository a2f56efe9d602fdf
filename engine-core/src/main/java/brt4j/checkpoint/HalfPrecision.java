package brt4j.checkpoint;

/**
 * Conversions between float32 and the two 16-bit float formats of checkpoints. Both directions round to nearest,
 * ties to even, keep the sign of zero, map infinities to infinities and NaN to a quiet NaN; float32 values beyond
 * the target's range become infinities (as PyTorch's {@code .to(torch.bfloat16)} / {@code .half()} do). Widening is
 * exact.
 */
public final class HalfPrecision {
    private HalfPrecision() {}

    /** bfloat16 (8 exponent bits, 7 mantissa bits: the upper half of a float32) to float32, exactly. */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** float32 to bfloat16, rounding to nearest even. NaN stays NaN (made quiet, keeping the sign). */
    public static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) {
            // NaN: truncating could clear every mantissa bit and turn it into an infinity, so force the quiet bit.
            return (short) ((bits >>> 16) | 0x0040);
        }
        // Adding 0x7FFF plus the lowest kept bit rounds the dropped 16 bits to nearest, ties to even; a carry out of
        // the mantissa correctly bumps the exponent (up to infinity for the largest finite values).
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }

    /** IEEE binary16 to float32, exactly. */
    public static float f16ToFloat(short bits) {
        return Float.float16ToFloat(bits);
    }

    /** float32 to IEEE binary16, rounding to nearest even (the JDK's own conversion, which does exactly that). */
    public static short floatToF16(float value) {
        return Float.floatToFloat16(value);
    }
}
