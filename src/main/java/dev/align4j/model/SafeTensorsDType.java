package dev.align4j.model;

/**
 * Element types of the safetensors format, by the names its JSON header uses. Every type listed here can be
 * validated (its byte size is known); {@link SafeTensorsFile} converts F32, F16 and BF16 to {@code float[]}
 * (both half formats widen to F32 exactly), I32 to {@code int[]}, and I32/I64 to {@code long[]}. The other way,
 * {@link #floatToBfloat16} and {@link #floatToHalf} narrow a float with round-to-nearest-even, as PyTorch does;
 * {@link SafeTensorsWriter} writes F32, BF16 and F16 tensors from {@code float[]} with them. The other
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

    /**
     * The bfloat16 nearest to {@code f} (ties to even), as its 16 bits in the low half of the int: what PyTorch's
     * {@code tensor.to(torch.bfloat16)} gives, bit for bit, for every non-NaN input (src/test/resources/half_rounding
     * holds torch's own answers). Values past the largest bfloat16 (above 0x7f7f7fff, i.e. about 3.3961e38) round to
     * infinity, as in torch; float subnormals round like any other value (to zero or a bfloat16 subnormal). A NaN
     * stays a quiet NaN with its sign and the top of its payload; torch instead writes 0xffff for every NaN, so NaN
     * bits differ from torch, NaN-ness does not.
     */
    public static int floatToBfloat16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x0040) & 0xffff;
        // Adding 0x7fff plus the bit that will become the last kept one rounds to nearest, ties to even; a carry out
        // of the mantissa steps the exponent, up to infinity for the largest floats.
        return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
    }

    /**
     * The IEEE 754 binary16 nearest to {@code f} (ties to even), as its 16 bits: what PyTorch's
     * {@code tensor.to(torch.float16)} gives, bit for bit, for every non-NaN input. Magnitudes of 65520 and more
     * (the midpoint between the largest half, 65504, and 2^16) become infinity with the sign kept, as in torch and
     * IEEE; those below 2^-14 become half subnormals (multiples of 2^-24, rounded to even), down to a signed zero.
     * A NaN stays a quiet NaN with its sign and the top of its payload (torch writes 0x7e00 or 0xfe00). (Java 20's
     * Float.floatToFloat16 does the same; this project targets 17.)
     */
    public static int floatToHalf(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7fffffff;
        if (abs > 0x7f800000) return sign | 0x7e00 | ((abs >>> 13) & 0x3ff);
        if (abs >= 0x477ff000) return sign | 0x7c00; // >= 65520 (or infinite): overflows to infinity
        if (abs < 0x38800000) {
            // below 2^-14, the smallest normal half: the result counts units of 2^-24. The scaling is exact (a power
            // of two), and Math.rint rounds half to even; 1024 units is 2^-14, which is also the right encoding.
            return sign | (int) Math.rint(Float.intBitsToFloat(abs) * 0x1p24f);
        }
        // a normal half: rebias the exponent from 127 to 15 (subtract 112 << 23), then drop 13 mantissa bits rounding
        // to nearest even; a carry steps the exponent (65504 + ulp/2 was excluded above, so no overflow here)
        int r = abs - 0x38000000;
        return sign | ((r + 0x0fff + ((r >>> 13) & 1)) >>> 13);
    }
}
