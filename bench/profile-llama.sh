#!/usr/bin/env bash
# Where the CPU of align4j's Llama training step goes, by library and symbol: perf samples the LlamaTrainBench
# process from the end of its warm-up step to its exit (so the model's random initialisation is left out), then
# groups the samples: OpenBLAS's GEMM micro-kernels, its packing, its thread synchronisation (spin-waits in the
# level-3 driver and the thread server), align4j's own kernels (libjnialign4j, stripped: one line for all),
# libc's memset/memcpy, libgomp, the kernel, the JVM. Complements LlamaOpsBench (per op, by replay).
#   bench/profile-llama.sh [LlamaTrainBench options...]      e.g. --B 1 --T 512 --steps 2
#   CLASS=LlamaGenerateBench MARK='^run 0:' bench/profile-llama.sh --B 32    # generation, after its warm-up run
# Environment: THREADS (default 1), FREQ (samples per second, default 499), OUT (folder, default a temp folder),
# CLASS (the bench class, default LlamaTrainBench), MARK (the output line after which sampling starts, default the
# warm-up step's '^step 0:').
# Needs perf (linux-perf) and permission to sample (root, or kernel.perf_event_paranoid <= 1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
threads=${THREADS:-1}
export OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads"
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
cls=${CLASS:-LlamaTrainBench}
mark=${MARK:-'^step 0:'}
args=("$@"); [ ${#args[@]} -gt 0 ] || [ "$cls" != LlamaTrainBench ] || args=(--B 1 --T 512 --steps 2 --warmup 1)
java -Xmx1g -cp "$root/bench/target/benchmarks.jar" "dev.align4j.bench.$cls" "${args[@]}" >"$out/bench.log" 2>&1 &
pid=$!
until grep -q "$mark" "$out/bench.log" 2>/dev/null; do
  kill -0 "$pid" 2>/dev/null || { cat "$out/bench.log"; exit 1; }
  sleep 0.5
done
perf record -q -F "${FREQ:-499}" -p "$pid" -o "$out/perf.data" 2>"$out/perf.err" &
perfpid=$!
wait "$pid" || true
sleep 1
kill -INT "$perfpid" 2>/dev/null || true
wait "$perfpid" 2>/dev/null || true
grep -E '^(step|run|RESULT)' "$out/bench.log" | cut -c1-160
perf report -i "$out/perf.data" --sort dso,sym --stdio 2>/dev/null >"$out/report.txt"
/usr/bin/python3 - "$out/report.txt" <<'EOF'
import re, sys
groups = {}
def group(dso, sym):
    if "openblas" in dso:
        if re.search(r"sgemm_kernel|sgemm_small_kernel", sym): return "OpenBLAS GEMM micro-kernel"
        if re.search(r"copy", sym): return "OpenBLAS packing (copy)"
        if re.search(r"beta", sym): return "OpenBLAS C = beta·C"
        if re.search(r"thread|exec_blas|blas_server", sym): return "OpenBLAS threads: sync and spin"
        if sym.startswith("0x"): return "OpenBLAS unnamed static code (with 2 threads: the level-3 driver's spin-waits)"
        return "OpenBLAS other"
    if "jnialign4j" in dso: return "align4j kernels (libjnialign4j)"
    if "libgomp" in dso: return "libgomp (OpenMP runtime)"
    if dso.startswith("libc"):
        return "libc memset" if "memset" in sym else "libc memcpy" if "mem" in sym else "libc other"
    if "kernel" in dso: return "Linux kernel"
    if "jvm" in dso or "JIT" in dso or "perf-" in dso or "java" in dso: return "JVM (JIT code, GC, runtime)"
    return "other: " + dso
for line in open(sys.argv[1]):
    m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[.\]\s+(.*?)\s*$", line)
    if m:
        g = group(m.group(2), m.group(3))
        groups[g] = groups.get(g, 0.0) + float(m.group(1))
print("\n| where | share of the samples |\n| --- | ---: |")
for g, v in sorted(groups.items(), key=lambda kv: -kv[1]):
    print(f"| {g} | {v:.1f}% |")
EOF
echo "[profile-llama] perf data and report in $out"
