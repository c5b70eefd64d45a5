#!/usr/bin/python3
"""Tables of bench/run-llama.sh's results: reads the RESULT lines of RESULTS/train.log, gen.log and ops.log (written
by LlamaTrainBench, LlamaGenerateBench, LlamaOpsBench and torch_llama_peer.py) and prints Markdown: training
throughput against the compute floor, memory against its floor, generation, and align4j's op breakdown.

  /usr/bin/python3 bench/llama_summary.py RESULTS [--layers 30 --hidden 576 --heads 9 --kv-heads 3 --ffn 1536 --vocab 49152]

Two clocks. Wall-clock time is what a user waits; on a machine shared with other work it mostly measures how much
of the cores the process got. Process CPU time (every thread) is what the work cost: with one thread it is the
time on a dedicated core, so "tokens per CPU-second" is the throughput one dedicated core would give. Ratios are
PyTorch's time over align4j's, > 1 when align4j is faster, per round (the processes of a round ran back to back)
and over all steps of all rounds.

The compute floor of a training step: FLOPs = B·T·(6·N + 12·L·T·C) (N parameters, every one in a matmul once the
tied embedding is counted as the LM head; attention's Q·Kᵀ and P·V forward and backward over the full T×T, as both
implementations compute it), over the SGEMM throughput measured in the same processes (2048³, per CPU-second).
"""
import json, os, statistics, sys
from collections import defaultdict


def results(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            if line.startswith("RESULT "):
                out.append(json.loads(line[len("RESULT "):]))
    return out


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


def fmt(x, digits=0):
    if x is None or x != x:
        return "—"
    return f"{x:,.{digits}f}"


def ratio(x):
    return "—" if x is None or x != x else f"{x:.2f}×"


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    folder = args[0]
    shape = dict(layers=30, hidden=576, heads=9, kv_heads=3, ffn=1536, vocab=49152)
    for i in range(1, len(args) - 1, 2):
        shape[args[i].lstrip("-").replace("-", "_")] = int(args[i + 1])
    L, C, H, V = shape["layers"], shape["hidden"], shape["heads"], shape["vocab"]
    machine = open(os.path.join(folder, "machine.txt")).read().strip() if os.path.exists(os.path.join(folder, "machine.txt")) else ""
    print("## Llama-family performance\n")
    if machine:
        print("\n".join("    " + l for l in machine.splitlines()) + "\n")

    train = results(os.path.join(folder, "train.log"))
    gemm = defaultdict(list)
    for r in train + results(os.path.join(folder, "gen.log")):
        if r["bench"] == "sgemm":
            gemm[r["impl"]].append(r)
    for impl, rs in gemm.items():
        print(f"- SGEMM of {impl} ({rs[0]['threads']} threads, best of 5, median over its {len(rs)} processes): 2048³ "
              f"{fmt(med(r['square_gflops'] for r in rs))} GFLOP/s wall, "
              f"{fmt(med(r.get('square_gflops_cpu') for r in rs))} GFLOP per CPU-second")
    peak = med(r.get("square_gflops_cpu") for r in gemm.get("align4j", []))
    print()

    steps = [r for r in train if r["bench"] == "train"]
    if steps:
        # rounds: each align4j (unchunked) run opens a round
        rounds, cur = [], None
        for r in steps:
            if r["impl"] == "align4j" or cur is None:
                cur = {}
                rounds.append(cur)
            cur[r["impl"]] = r
        by = defaultdict(list)
        for r in steps:
            by[r["impl"]].append(r)
        b, t, n = steps[0]["B"], steps[0]["T"], steps[0]["params"]
        flops = b * t * (6.0 * n + 12.0 * L * t * C)
        print(f"### Training step: B={b}, T={t}, {n:,} parameters, {steps[0]['threads']} thread(s)\n")
        print(f"Compute floor: {flops / 1e9:,.0f} GFLOP per step ({flops / (b * t) / 1e6:,.0f} MFLOP per token: "
              f"6·N = {6 * n / 1e6:,.0f}, attention 12·L·T·C = {12 * L * t * C / 1e6:,.0f}); at align4j's measured "
              f"{fmt(peak)} GFLOP per CPU-second that is {flops / 1e9 / peak:,.2f} CPU-seconds per step.\n")
        torch_cpu = med(x for r in by.get("pytorch", []) for x in r["cpu_ms"])
        torch_wall = med(x for r in by.get("pytorch", []) for x in r["step_ms"])
        print("| implementation | step, wall (ms) | tokens/s, wall | step, CPU (ms) | tokens per CPU-second | of the compute "
              "floor | forward / backward / update, CPU (ms) | vs PyTorch, CPU | vs PyTorch, wall | per-round ratios, CPU |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |")
        for impl, rs in by.items():
            wall = med(x for r in rs for x in r["step_ms"])
            cpu = med(x for r in rs for x in r["cpu_ms"])
            per_round = []
            for rd in rounds:
                if impl in rd and "pytorch" in rd:
                    per_round.append(rd["pytorch"]["median_cpu_ms"] / rd[impl]["median_cpu_ms"])
            split = " / ".join(fmt(med(r.get(k) for r in rs)) for k in ("cpu_forward_ms", "cpu_backward_ms", "cpu_update_ms"))
            print(f"| {impl} | {fmt(wall)} | {fmt(b * t / wall * 1e3, 1)} | {fmt(cpu)} | {fmt(b * t / cpu * 1e3, 1)} | "
                  f"{100 * flops / 1e9 / peak / (cpu / 1e3):.0f}% | {split} | {ratio(torch_cpu / cpu)} | "
                  f"{ratio(torch_wall / wall)} | {', '.join(f'{x:.2f}' for x in per_round) or '—'} |")
        print()
        # memory
        print(f"### Memory of the training step (B={b}, T={t})\n")
        state = 16 * n
        print(f"Floor: parameters, gradients and the two AdamW moments, 4 bytes each: 16·N = {state / 2**30:.2f} GiB, "
              f"plus the activations the backward needs. align4j's activations with fused attention (no [B, H, T, T]: "
              f"the {L} saved probability tensors and the shared dP become one log-sum-exp per row and head) are the "
              f"'activation floor' column.\n")
        print("| implementation | activations, counted (MiB) | activation floor (MiB) | state 16·N (MiB) | floor total (MiB) | "
              "RSS before the model (MiB) | peak RSS (MiB) | peak − before (MiB) |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for impl, rs in by.items():
            r = rs[0]
            acts = r.get("activation_bytes")
            floor_acts = None
            if acts is not None:
                att = b * H * t * t * 4
                floor_acts = acts - (L + 1) * att + L * b * H * t * 4
            peak_rss = med(x["peak_rss_mb"] for x in rs)
            before = med(x["rss_before_mb"] for x in rs)
            mib = lambda x: None if x is None else x / 2**20
            print(f"| {impl} | {fmt(mib(acts))} | {fmt(mib(floor_acts))} | {fmt(mib(state))} | "
                  f"{fmt(mib(state + floor_acts) if floor_acts is not None else None)} | {fmt(before)} | "
                  f"{fmt(peak_rss)} | {fmt(peak_rss - before)} |")
        print()

    gen = [r for r in results(os.path.join(folder, "gen.log")) if r["bench"] == "gen"]
    if gen:
        print("### KV-cache generation (greedy)\n")
        by = defaultdict(list)
        for r in gen:
            by[(r["B"], r["impl"])].append(r)
        bw = med(r.get("read_gbs") for r in gen)
        nparam = 0
        for r in gen:
            nparam = r.get("param_bytes", nparam) or nparam
        print(f"Floor of a batch-1 step: every weight read once, {nparam / 1e6:,.0f} MB at the measured read bandwidth "
              f"{fmt(bw, 1)} GB/s (all cores, wall) = {nparam / 1e9 / bw * 1e3 if bw == bw and bw else float('nan'):.1f} ms per "
              f"token. A batch-32 step is compute: 2·N FLOPs per token at {fmt(peak)} GFLOP per CPU-second = "
              f"{2 * nparam / 4 / peak / 1e6 if peak == peak else float('nan'):.1f} CPU-ms per token.\n")
        print("Of the floor: batch 1, the read floor over the decode's wall time per step (both slowed alike by other "
              "work on the machine); larger batches, the compute floor over the decode's CPU time per step.\n")
        print("| batch | implementation | new tokens | prefill, wall (ms) | prefill, CPU (ms) | decode tokens/s, wall | "
              "decode, CPU-ms per step | decode tokens per CPU-second | of the floor | vs PyTorch, CPU | vs PyTorch, wall |")
        print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for (bb, impl), rs in sorted(by.items()):
            nn = rs[0]["new"] - 1
            dec = med(r["decode_ms"] for r in rs)
            dec_cpu = med(r.get("decode_cpu_ms") for r in rs)
            pt = by.get((bb, "pytorch"))
            same_len = pt and pt[0]["new"] == rs[0]["new"]
            r_cpu = med(r.get("decode_cpu_ms") for r in pt) / dec_cpu if same_len else float("nan")
            r_wall = med(r["decode_ms"] for r in pt) / dec if same_len else float("nan")
            if bb == 1:
                of_floor = (nparam / 1e9 / bw * 1e3) / (dec / nn) if bw == bw and bw else float("nan")
            else:
                of_floor = (bb * 2 * nparam / 4 / peak / 1e6) / (dec_cpu / nn)
            print(f"| {bb} | {impl} | {rs[0]['new']} | {fmt(med(r['prefill_ms'] for r in rs))} | "
                  f"{fmt(med(r.get('prefill_cpu_ms') for r in rs))} | "
                  f"{fmt(bb * nn / dec * 1e3, 1)} | {fmt(dec_cpu / nn, 1)} | {fmt(bb * nn / dec_cpu * 1e3, 1)} | "
                  f"{100 * of_floor:.0f}% | {ratio(r_cpu)} | {ratio(r_wall)} |")
        print()

    ops = [r for r in results(os.path.join(folder, "ops.log")) if r["bench"] == "ops"]
    if ops:
        r = ops[-1]
        total = r["total_ms"]
        print(f"### Where align4j's step goes (LlamaOpsBench, B={r['B']}, T={r['T']}, {r.get('clock', 'cpu')} time; "
              f"sum of the ops {fmt(total)} ms)\n")
        print("| group | ms per step | share |")
        print("| --- | ---: | ---: |")
        groups = sorted(((k[len("group_ms."):], v) for k, v in r.items() if k.startswith("group_ms.")), key=lambda kv: -kv[1])
        for g, v in groups:
            print(f"| {g} | {fmt(v)} | {100 * v / total:.1f}% |")
        print()


if __name__ == "__main__":
    main()
