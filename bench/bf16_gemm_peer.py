#!/usr/bin/python3
"""Should align4j store frozen weights in bf16 and compute in fp32? The GEMMs of a SmolLM2-135M-shaped model
(hidden 576, q/k/v fused 960, FFN 1536 (gate|up fused 3072), vocab 49152), timed side by side in ONE process, the
variants interleaved rep by rep so that a shared machine's load changes hit them all alike:

  openblas f32   cblas_sgemm of the OpenBLAS that align4j loads (the libopenblas.so.0 inside the
                 org.bytedeco:openblas 0.3.31-1.5.13 linux-x86_64 jar, called through ctypes); cblas_sbgemm too
                 when that library exports it (it does not: built without BUILD_BFLOAT16)
  torch f32      torch.matmul(x, W.t(), out=y), fp32 (Debian's torch 1.13 on libopenblas0-pthread 0.3.21)
  torch bf16     the same with x, W and y in bfloat16 (oneDNN; fp32 accumulation, bf16 output)
  torch bf16→f32 W stored in bfloat16, widened into an fp32 scratch on every call, then the fp32 matmul:
                 "store bf16, compute fp32" with no fused kernel
  (every output is preallocated, as align4j's are: a fresh 400 MB logits tensor per call would time page faults)
  own f32 / own bf16w / own dpbf   the hand-written weight-stationary kernels of bench/bf16_gemv.c at small N
                 (fp32 weights; bf16 weights widened in registers with fp32 FMA; AVX-512 BF16 vdpbf16ps)
  dX rows        the input gradient dX = dY·W that a frozen weight (a LoRA base) still needs in training

  /usr/bin/python3 bench/bf16_gemm_peer.py [--reps 7] [--threads 1] [--openblas PATH/libopenblas.so.0] [--kernels SO]
                                           [--ns 2048,32,1] [--variants "openblas f32,torch bf16"]

bench/bf16-gemm.sh builds the kernels, finds the jar, and runs this with OPENBLAS_CORETYPE as set and unset.
Prints the library's config and core, the memory read bandwidth (one pass over 1 GiB), then a Markdown table:
median ms per call and, for each variant, its speed relative to openblas f32 (> 1: faster).
"""
import argparse, ctypes, glob, os, statistics, sys, tempfile, time, zipfile
import torch
import torch.nn.functional as F

H, QKV, FFN2, FFN, V = 576, 960, 3072, 1536, 49152
FORWARD = [("qkv 576→960", H, QKV), ("o 576→576", H, H), ("gate|up 576→3072", H, FFN2), ("down 1536→576", FFN, H),
           ("lm_head 576→49152", H, V)]
BACKWARD = [("dX gate|up 3072→576", H, FFN2), ("dX down 576→1536", FFN, H), ("dX lm_head 49152→576", H, V)]


def load_openblas(path):
    """The bytedeco jar's libopenblas (its libgfortran etc. beside it), or PATH."""
    if path is None:
        jars = glob.glob(os.path.expanduser(
            "~/.m2/repository/org/bytedeco/openblas/0.3.31-1.5.13/openblas-0.3.31-1.5.13-linux-x86_64.jar"))
        if not jars:
            sys.exit("no org.bytedeco openblas linux-x86_64 jar in ~/.m2 (build align4j once)")
        out = tempfile.mkdtemp(prefix="a4j-openblas-")
        with zipfile.ZipFile(jars[0]) as z:
            for n in z.namelist():
                if n.startswith("org/bytedeco/openblas/linux-x86_64/") and ".so" in n:
                    z.extract(n, out)
        path = os.path.join(out, "org/bytedeco/openblas/linux-x86_64/libopenblas.so.0")
    d = os.path.dirname(path)
    for dep in ("libgcc_s.so.1", "libquadmath.so.0", "libgfortran.so.5"):
        if os.path.exists(os.path.join(d, dep)):
            ctypes.CDLL(os.path.join(d, dep), mode=ctypes.RTLD_GLOBAL)
    lib = ctypes.CDLL(path)
    lib.openblas_get_config.restype = ctypes.c_char_p
    lib.openblas_get_corename.restype = ctypes.c_char_p
    return lib


def timed(fn, min_ms=30.0):
    """ms per call of fn, a batch lasting >= min_ms."""
    t0 = time.perf_counter()
    fn()
    one = max((time.perf_counter() - t0) * 1e3, 1e-3)
    calls = max(1, int(min_ms / one + 0.999))
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) * 1e3 / calls


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--openblas")
    ap.add_argument("--kernels", help="bench/bf16_gemv.c built as a shared library")
    ap.add_argument("--ns", default="2048,32,1")
    ap.add_argument("--variants", help="comma-separated subset of the columns (default: all); run OpenBLAS and the "
                    "OpenMP ones (torch, own) in separate processes when threads > 1: their thread pools fight")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    ob = load_openblas(a.openblas)
    ob.openblas_set_num_threads(a.threads)
    has_sb = hasattr(ob, "cblas_sbgemm")
    print(f"OpenBLAS: {ob.openblas_get_config().decode()} | core {ob.openblas_get_corename().decode()} | "
          f"cblas_sbgemm exported: {has_sb} | OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"mkldnn bf16 usable: {torch.backends.mkldnn.is_available()}")
    ker = None
    if a.kernels:
        ker = ctypes.CDLL(a.kernels)
        print(f"own kernels: {a.kernels}, AVX-512 BF16 vdpbf16ps: {bool(ker.has_dpbf16())}")
    big = torch.ones(256 * 1024 * 1024)
    gbs = max(1.0 / (timed(lambda: big.sum(), 200) / 1e3) for _ in range(3))  # 1 GiB read
    del big
    print(f"read bandwidth (torch sum over 1 GiB fp32, {a.threads} threads): {gbs:.1f} GB/s")

    P = ctypes.c_void_p
    ob.cblas_sgemm.argtypes = [ctypes.c_int] * 6 + [ctypes.c_float, P, ctypes.c_int, P, ctypes.c_int, ctypes.c_float,
                                                    P, ctypes.c_int]
    RowMajor, NoTrans, Trans = 101, 111, 112

    def ptr(t):
        return ctypes.c_void_p(t.data_ptr())

    cases = []
    for n in [int(x) for x in a.ns.split(",")]:
        cases += [(name, n, i, o, False) for name, i, o in FORWARD]
    if 2048 in [int(x) for x in a.ns.split(",")]:
        cases += [(name, 2048, i, o, True) for name, i, o in BACKWARD]
    cols = ["openblas f32", "torch f32", "torch bf16", "torch bf16→f32", "own f32", "own bf16w", "own dpbf"]
    if has_sb:
        cols.insert(1, "openblas sbgemm")
    rows = []
    torch.manual_seed(0)
    for name, n, fin, fout, dx in cases:
        w = torch.randn(fout, fin) * 0.02
        wb = w.bfloat16()
        if not dx:
            x = torch.randn(n, fin)
            y = torch.empty(n, fout)
            xb = x.bfloat16()
            yb = torch.empty(n, fout, dtype=torch.bfloat16)
            wt, wbt, scratch = w.t(), wb.t(), torch.empty(fout, fin)
            v = {"openblas f32": lambda: ob.cblas_sgemm(RowMajor, NoTrans, Trans, n, fout, fin, 1.0, ptr(x), fin, ptr(w),
                                                        fin, 0.0, ptr(y), fout),
                 "torch f32": lambda: torch.matmul(x, wt, out=y),
                 "torch bf16": lambda: torch.matmul(xb, wbt, out=yb),
                 "torch bf16→f32": lambda: torch.matmul(x, scratch.copy_(wb).t(), out=y)}
            if ker is not None and n <= 32:
                wbits = wb.view(torch.int16)
                xbits = xb.view(torch.int16).contiguous()
                v["own f32"] = lambda: ker.gemm_f32(ptr(w), ptr(x), ptr(y), n, fin, fout)
                v["own bf16w"] = lambda: ker.gemm_bf16w(ptr(wbits), ptr(x), ptr(y), n, fin, fout)
                if ker.has_dpbf16() and fin % 32 == 0:
                    v["own dpbf"] = lambda: ker.gemm_dpbf(ptr(wbits), ptr(xbits), ptr(y), n, fin, fout)
        else:
            dy = torch.randn(n, fout)
            dyb = dy.bfloat16()
            dxo = torch.empty(n, fin)
            dxb = torch.empty(n, fin, dtype=torch.bfloat16)
            scratch = torch.empty(fout, fin)
            v = {"openblas f32": lambda: ob.cblas_sgemm(RowMajor, NoTrans, NoTrans, n, fin, fout, 1.0, ptr(dy), fout,
                                                        ptr(w), fin, 0.0, ptr(dxo), fin),
                 "torch f32": lambda: torch.matmul(dy, w, out=dxo),
                 "torch bf16": lambda: torch.matmul(dyb, wb, out=dxb),
                 "torch bf16→f32": lambda: torch.matmul(dy, scratch.copy_(wb), out=dxo)}
        if a.variants:
            keep = set(a.variants.split(","))
            v = {k: f for k, f in v.items() if k in keep}
        if not v:
            continue
        samples = {k: [] for k in v}
        for k in v:
            v[k]()  # warm-up
        for _ in range(a.reps):
            for k in v:
                samples[k].append(timed(v[k]))
        med = {k: statistics.median(s) for k, s in samples.items()}
        rows.append((name, n, med))
        print(f"  {name:24s} N={n:5d} " + "  ".join(f"{k} {m:.3f}" for k, m in med.items()), flush=True)

    print()
    print("| GEMM | N | " + " | ".join(c + " ms" for c in cols) + " | weight GB/s (f32 / own bf16w) |")
    print("| --- | ---: | " + " | ".join("---:" for _ in cols) + " | ---: |")
    if a.variants:
        cols = [c for c in cols if c in a.variants.split(",")]
    for name, n, med in rows:
        base = med.get("openblas f32")
        cells = []
        for c in cols:
            if c not in med:
                cells.append("–")
            elif c == "openblas f32" or base is None:
                cells.append(f"{med[c]:.3f}")
            else:
                cells.append(f"{med[c]:.3f} ({base / med[c]:.2f}×)")
        fin, fout = next((i, o) for nm, i, o in FORWARD + BACKWARD if nm == name)
        gb32 = f"{4.0 * fin * fout / 1e9 / (base / 1e3):.1f}" if base else "–"
        gbb = f" / {2.0 * fin * fout / 1e9 / (med['own bf16w'] / 1e3):.1f}" if "own bf16w" in med else ""
        print(f"| {name} | {n} | " + " | ".join(cells) + f" | {gb32}{gbb} |")
    print(f"(×: openblas f32 time / this time, > 1 is faster. Read floor {gbs:.1f} GB/s.)")


if __name__ == "__main__":
    main()
