#!/usr/bin/env python3
"""Golden file of float32 -> bfloat16 and float32 -> float16 rounding as PyTorch does it (Debian's torch 1.13).

  /usr/bin/python3 tools/half_rounding_golden.py > src/test/resources/half_rounding/torch_golden.txt

Each data line: the float32 bits, torch's bfloat16 bits and torch's float16 bits, in hex. The inputs are edge
values (signed zeros, ties to even on both sides, the largest finite values and the first ones that overflow,
subnormals of both formats and the boundaries between subnormal and normal, infinities, NaNs) and a few thousand
deterministic pseudo-random bit patterns over the whole float range. Each value is converted twice, inside one
large tensor (torch's vectorised path) and alone (its scalar path); a line is written only where both agree, so a
difference between torch's own paths would show as a missing line (none today; NaN bits do differ between the
formats: bfloat16 NaN becomes 0xffff, float16 NaN 0x7e00 with the sign kept). Read by SafeTensorsDTypeTest.
"""
import random, struct, sys
import torch


def f2b(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def edge_bits():
    out = set()
    for s in (0, 0x80000000):
        for b in (0x00000000, 0x7F800000, 0x7FC00000, 0x7F800001, 0x7FFFFFFF, 0x00000001, 0x007FFFFF, 0x00800000,
                  0x7F7FFFFF, 0x3F800000):
            out.add(s | b)
    vals = []
    one = 1.0
    # bfloat16 keeps 8 significant bits: around 1.0 the step is 2^-7, the tie 2^-8
    for k in range(0, 8):
        base = one + k * 2 ** -7
        vals += [base + 2 ** -8, base + 2 ** -8 + 2 ** -23, base + 2 ** -8 - 2 ** -23]
    # float16 keeps 11 significant bits: step 2^-10 around 1.0, tie 2^-11
    for k in range(0, 8):
        base = one + k * 2 ** -10
        vals += [base + 2 ** -11, base + 2 ** -11 + 2 ** -23, base + 2 ** -11 - 2 ** -23]
    # float16 range: max finite 65504, ties to 65520 (rounds to inf), subnormal 2^-24 .. 2^-14
    vals += [65504.0, 65505.0, 65519.0, 65519.99609375, 65520.0, 65536.0, 1e5, 2 ** 16 - 2 ** 4]
    for k in range(-26, -12):
        vals += [2.0 ** k, 2.0 ** k * 1.5, 2.0 ** k * 1.25, 2.0 ** k * 1.75, 2.0 ** k * (1 + 2 ** -23),
                 2.0 ** k * (1 - 2 ** -24)]
    vals += [2 ** -25, 2 ** -25 * (1 + 2 ** -23), 2 ** -25 * (1 - 2 ** -24), 3 * 2 ** -25, 5 * 2 ** -25,
             2 ** -14 - 2 ** -25, 2 ** -14 - 2 ** -26]
    # bfloat16 range: max finite 0x7f7f, overflow above 0x7f7f8000 - 1 ulp
    for b in (0x7F7F0000, 0x7F7F7FFF, 0x7F7F8000, 0x7F7F8001, 0x7F7EFFFF, 0x7F7E8000):
        out.add(b)
    # bfloat16 subnormals (float32 subnormals), a tie among them, and their top
    for b in (0x00008000, 0x00018000, 0x00010000, 0x0000FFFF, 0x00007FFF, 0x007F8000, 0x007FFFFF, 0x00FF8000):
        out.add(b)
    for v in vals:
        out.add(f2b(v))
        out.add(f2b(-v))
    return out


def main():
    rng = random.Random(20240514)
    bits = edge_bits()
    while len(bits) < 4000:
        r = rng.getrandbits(32)
        bits.add(r)
        # values in a weight's range, where rounding happens in practice
        bits.add(f2b(rng.gauss(0.0, 0.05)))
    bits = sorted(bits)
    # from the bits, not from Python floats: a float64 round trip could change a NaN's payload
    x = torch.tensor([b - (1 << 32) if b >= 1 << 31 else b for b in bits], dtype=torch.int32).view(torch.float32)
    vec_bf = (x.to(torch.bfloat16).view(torch.int16).to(torch.int32) & 0xFFFF).tolist()
    vec_h = (x.to(torch.float16).view(torch.int16).to(torch.int32) & 0xFFFF).tolist()
    print("# float32 -> bfloat16, float16 bits as torch " + torch.__version__ + " rounds them (tools/half_rounding_golden.py)")
    print("# f32 bf16 f16")
    skipped = 0
    for i, b in enumerate(bits):
        one = x[i:i + 1].clone()
        sb = one.to(torch.bfloat16).view(torch.int16).item() & 0xFFFF
        sh = one.to(torch.float16).view(torch.int16).item() & 0xFFFF
        if sb != vec_bf[i] or sh != vec_h[i]:
            skipped += 1
            continue
        print(f"{b:08x} {vec_bf[i]:04x} {vec_h[i]:04x}")
    print(f"# {skipped} values where torch's scalar and vector paths differ were left out", file=sys.stderr)


if __name__ == "__main__":
    main()
