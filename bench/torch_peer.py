#!/usr/bin/env python3
"""PyTorch peer for the align4j log-probs report: the same shapes, the same kernels, on the CPU (or, with
--device cuda, on the GPU machine's PyTorch).

  fwd          log_softmax(z).gather(label)                       (no autograd)
  fwd+entropy  the same plus H = -sum(exp(ls) * ls)               (no autograd)
  bwd          autograd of logp w.r.t. z, upstream dlogp          (graph kept, backward timed alone)
  bwd+entropy  autograd of (logp, H), upstream (dlogp, dentropy)

Median of --reps calls after --warmup (each ended by torch.cuda.synchronize() on a GPU), torch threads =
number of cores. Prints torch's 2048^2 fp32 matmul
GFLOP/s first (DESIGN.md: without an optimised BLAS the peer is not a fair one). With --align4j-csv (the
Report main's --csv) it prints one table joining align4j, naive, PyTorch and the floor.

  /usr/bin/python3 bench/torch_peer.py --shapes 4096x32000 --align4j-csv /tmp/align4j.csv
"""
import argparse
import csv
import math
import os
import statistics
import time

import torch

KERNELS = ["fwd", "fwd+entropy", "bwd", "bwd+entropy"]


DEVICE = "cpu"


def sync():
    if DEVICE.startswith("cuda"):
        torch.cuda.synchronize()


def median_ms(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def matmul_gflops(n=2048, reps=5):
    a = torch.randn(n, n, device=DEVICE)
    b = torch.randn(n, n, device=DEVICE)
    ms = median_ms(lambda: torch.mm(a, b), 2, reps)
    return 2 * n ** 3 / (ms * 1e6)


def blas_in_use():
    """The BLAS library mapped into this process (Debian's torch uses whatever libblas.so.3 points to)."""
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                name = line.split()[-1]
                if "blas" in os.path.basename(name).lower():
                    libs.add(os.path.realpath(name))
    except OSError:
        pass
    return ", ".join(sorted(libs)) or "unknown"


def mem_available_bytes():
    if DEVICE.startswith("cuda"):
        return torch.cuda.mem_get_info()[0]
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def run_shape(n, v, warmup, reps, seed):
    g = torch.Generator(device=DEVICE).manual_seed(seed)
    z = torch.randn(n, v, generator=g, device=DEVICE).mul_(2.0)
    y = torch.randint(0, v, (n, 1), generator=g, device=DEVICE)
    dlogp = torch.rand(n, generator=g, device=DEVICE) * 2 - 1
    dent = torch.rand(n, generator=g, device=DEVICE) * 2 - 1
    out = {}

    def fwd():
        with torch.no_grad():
            return torch.log_softmax(z, -1).gather(1, y).squeeze(1)

    def fwd_ent():
        with torch.no_grad():
            ls = torch.log_softmax(z, -1)
            return ls.gather(1, y).squeeze(1), -(ls.exp() * ls).sum(-1)

    out["fwd"] = median_ms(fwd, warmup, reps)
    out["fwd+entropy"] = median_ms(fwd_ent, warmup, reps)

    zg = z.requires_grad_(True)
    ls = torch.log_softmax(zg, -1)
    logp = ls.gather(1, y).squeeze(1)
    out["bwd"] = median_ms(lambda: torch.autograd.grad(logp, zg, dlogp, retain_graph=True), warmup, reps)
    del ls, logp
    ls = torch.log_softmax(zg, -1)
    logp = ls.gather(1, y).squeeze(1)
    ent = -(ls.exp() * ls).sum(-1)
    out["bwd+entropy"] = median_ms(
        lambda: torch.autograd.grad((logp, ent), zg, (dlogp, dent), retain_graph=True), warmup, reps)
    return out


def read_align4j(path):
    rows = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            if r["family"] == "logprobs" and r["device"].split(":")[0] == DEVICE.split(":")[0]:
                rows[(r["kernel"], r["shape"])] = r
    return rows


def fnum(x, fmt="%.1f"):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else fmt % x


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:K]")
    ap.add_argument("--shapes", default="4096x32000,4096x128256,16384x32000,16384x128256")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--align4j-csv", help="the Report main's --csv output, to join")
    ap.add_argument("--mem-factor", type=float, default=4.5,
                    help="skip a shape when mem-factor x N*V*4 bytes exceed MemAvailable (autograd keeps ~4 N×V arrays)")
    args = ap.parse_args()

    global DEVICE
    DEVICE = args.device
    torch.set_num_threads(args.threads)
    if DEVICE.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = False  # an fp32 sanity figure, not TF32
        gflops = matmul_gflops()
        print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}")
    else:
        gflops = matmul_gflops()
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, BLAS: {blas_in_use()}")
    print(f"torch 2048^2 fp32 matmul on {DEVICE}: {gflops:.0f} GFLOP/s")

    torch_ms = {}
    for s in args.shapes.split(","):
        n, v = (int(x) for x in s.lower().split("x"))
        shape = f"N={n} V={v}"
        need = args.mem_factor * n * v * 4
        avail = mem_available_bytes()
        if avail is not None and need > avail:
            print(f"[torch] {shape}: skipped, needs ~{need / 2**30:.1f} GiB, {avail / 2**30:.1f} GiB available", flush=True)
            continue
        print(f"[torch] {shape} ...", flush=True)
        for k, ms in run_shape(n, v, args.warmup, args.reps, args.seed).items():
            torch_ms[(k, shape)] = ms
            print(f"  {k:12s} {shape:20s} {ms:10.2f} ms", flush=True)

    a4j = read_align4j(args.align4j_csv) if args.align4j_csv else {}
    keys = list(a4j.keys()) if a4j else list(torch_ms.keys())
    print()
    print("| kernel | shape | align4j ms | naive ms | PyTorch ms | floor ms | align4j of floor | PyTorch of floor | PyTorch / align4j |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for key in keys:
        k, shape = key
        r = a4j.get(key)
        ms = float(r["ms"]) if r else None
        naive = float(r["naive_ms"]) if r else None
        floor = float(r["floor_ms"]) if r else None
        t = torch_ms.get(key)
        of_floor = (lambda x: fnum(100 * floor / x, "%.0f%%") if floor and x else "-")
        ratio = fnum(t / ms, "%.1f×") if t and ms else "-"
        print(f"| logprobs {k} | {shape} | {fnum(ms)} | {fnum(naive)} | {fnum(t)} | {fnum(floor)} | "
              f"{of_floor(ms)} | {of_floor(t)} | {ratio} |")


if __name__ == "__main__":
    main()
