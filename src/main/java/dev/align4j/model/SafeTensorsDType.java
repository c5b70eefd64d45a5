package dev.align4j.model;

/**
 * Element types of the safetensors format, by the names its JSON header uses. Every type listed here can be
 * validated (its byte size is known); {@link SafeTensorsFile} converts F32, F16 and BF16 to {@code float[]}
 * (both half formats widen to F32 exactly), I32 to {@code int[]}, and I32/I64 to {@code long[]}. The other
 * types are recognised so that a file holding them opens, but their data cannot be read as numbers here.
 * Sub-byte types (F4, F6_*) are not listed: a file holding them is rejected as having an unknown dtype.
 */
public enum SafeTensorsDType {
    // Declaration order is the safetensors crate's Dtype order; its writer sorts tensors by it, descending.
    BOOL, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64;

    /** Size of one element in bytes. */
    public int bytes() {
        return switch (this) {
            case BOOL, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0 -> 1;
            case I16, U16, F16, BF16 -> 2;
            case I32, U32, F32 -> 4;
            case F64, I64, U64 -> 8;
        };
    }

    /** True for the types that widen to F32 without rounding: F32, F16, BF16. */
    public boolean isExactFloat() {
        return this == F32 || this == F16 || this == BF16;
    }

    /** The type named {@code name} in a header ("F32", "BF16", ...), or null when it is not one of these. */
    public static SafeTensorsDType parse(String name) {
        for (SafeTensorsDType t : values()) if (t.name().equals(name)) return t;
        return null;
    }

    /**
     * IEEE 754 binary16 (given as its 16 bits) to the float with the same value. Exact for every input:
     * normals and subnormals are representable in binary32, infinities stay infinite, NaNs stay NaN (the
     * payload is shifted into the float's mantissa, keeping the quiet bit). (Java 20's
     * Float.float16ToFloat does the same; this project targets 17.)
     */
    public static float halfToFloat(int bits) {
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0x1f) return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        if (exp == 0) {
            // zero or subnormal: mant * 2^-24, exact in binary32 (it has 8 more exponent bits)
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        // rebias the exponent from 15 to 127
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    /** bfloat16 (given as its 16 bits) to float: bfloat16 is the top half of a binary32, so this is exact. */
    public static float bfloat16ToFloat(int bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }
}
