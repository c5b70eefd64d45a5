#!/usr/bin/env bash
# Runs align4j's tests and GPU benchmarks from a bundle made by tools/gpu-bundle.sh, on a CUDA machine
# with no Java and no Maven:
#   1. finds the driver (libcuda.so.1) and, where present, libcudart/libcublas .so.13 (on / or in
#      Python's site-packages) and puts their folders on LD_LIBRARY_PATH with the bundled libgomp
#   2. nvidia-smi
#   3. ALL tests (JUnit console) with -Dalign4j.requireCuda=true -Dalign4j.device=cuda: a GPU test
#      fails, never skips, when CUDA cannot be used
#   4. the benchmark report on cuda (bench/ Report main), then the PyTorch peer on cuda when python3 has torch
# Results go to $OUT when set (the device tool's folder), else <bundle>/results: machine.txt, tests.log,
# junit/TEST-junit-jupiter.xml, bench-cuda.log, torch-cuda.log (+ bench-cpu.log, jmh.log when asked). Exit status: 0 only when
# the tests and the benchmarks all passed.
# Environment: SKIP_TESTS=1, SKIP_BENCH=1, SHAPES (NxV,...; default the report's), REPORT_ARGS (more
# Report options), BENCH_CPU=1 to add a CPU report of the same shapes, JMH_ARGS (when set, also runs
# JMH with these arguments, e.g. "LogProbsBench -p device=cuda -p N=4096 -f 1").
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/results}
mkdir -p "$out"
tmp=$(mktemp -d)  # CSVs for the PyTorch join: the logs hold the tables, and $OUT brings back 8 files at most
java="$here/jre/bin/java"
say() { echo "[run-gpu] $*"; }

# ---- libraries
libdirs=("$here/native")
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/local/cuda/lib64 \
         /usr/local/cuda/targets/x86_64-linux/lib; do
  [ -d "$d" ] && ls "$d"/libcuda.so.1 "$d"/libcudart.so.13* "$d"/libcublas.so.13* >/dev/null 2>&1 && libdirs+=("$d")
done
roots=()
if command -v python3 >/dev/null 2>&1; then
  while IFS= read -r p; do [ -d "$p" ] && roots+=("$p"); done < <(python3 -c \
    'import site,sys; print("\n".join(site.getsitepackages()+[site.getusersitepackages()]))' 2>/dev/null)
fi
for lib in libcublas.so.13 libcudart.so.13; do
  f=$(find "${roots[@]}" -name "$lib*" -print -quit 2>/dev/null)
  [ -n "$f" ] || f=$(timeout 120 find / \( -path /proc -o -path /sys -o -path /dev \) -prune -o -name "$lib*" -print -quit 2>/dev/null)
  if [ -n "$f" ]; then libdirs+=("$(dirname "$f")"); say "$lib: $f"; else say "$lib: not found (align4j links cudart statically; fine)"; fi
done
LD_LIBRARY_PATH=$(IFS=:; echo "${libdirs[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
say "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
say "driver: $(ldconfig -p 2>/dev/null | grep -m1 'libcuda.so.1' || echo 'libcuda.so.1 not in the ld cache')"

# ---- the machine
{
  cat "$here/BUILD-INFO.txt" 2>/dev/null
  echo "host:    $(uname -a)"
  echo "cpus:    $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
  "$java" -version 2>&1
  nvidia-smi 2>&1 || echo "nvidia-smi: not available"
} | tee "$out/machine.txt"

status=0
# ---- tests
if [ "${SKIP_TESTS:-0}" != 1 ]; then
  say "tests: all, with -Dalign4j.requireCuda=true -Dalign4j.device=cuda"
  cp="$here/test-classes"  # the console does not expand lib/*
  for j in "$here"/lib/*.jar; do [ "$(basename "$j")" = junit-console.jar ] || cp="$cp:$j"; done
  "$java" -Dalign4j.requireCuda=true -Dalign4j.device=cuda -jar "$here/lib/junit-console.jar" execute \
      --disable-banner --disable-ansi-colors --details=tree --exclude-engine=junit-vintage \
      --class-path "$cp" --scan-class-path "$here/test-classes" \
      --reports-dir "$out/junit" 2>&1 | tee "$out/tests.log"
  rc=${PIPESTATUS[0]}
  say "tests exit status: $rc"
  [ "$rc" = 0 ] || status=1
fi

# ---- benchmarks
if [ "${SKIP_BENCH:-0}" != 1 ]; then
  shapes=()
  [ -n "${SHAPES:-}" ] && shapes=(--shapes "$SHAPES")
  say "benchmarks: report on cuda"
  # shellcheck disable=SC2086
  "$java" -cp "$here/benchmarks.jar:$here/lib/*" dev.align4j.bench.Report --device cuda "${shapes[@]}" \
      --csv "$tmp/bench-cuda.csv" ${REPORT_ARGS:-} 2>&1 | tee "$out/bench-cuda.log"
  rc=${PIPESTATUS[0]}
  say "benchmark report exit status: $rc"
  [ "$rc" = 0 ] || status=1
  if [ "$rc" = 0 ] && command -v python3 >/dev/null 2>&1 && python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
    say "PyTorch peer on cuda"
    python3 "$here/torch_peer.py" --device cuda ${SHAPES:+--shapes "$SHAPES"} \
        --align4j-csv "$tmp/bench-cuda.csv" 2>&1 | tee "$out/torch-cuda.log"
  fi
  if [ "${BENCH_CPU:-0}" = 1 ]; then
    say "benchmarks: report on cpu ($(nproc) cores)"
    # shellcheck disable=SC2086
    "$java" -cp "$here/benchmarks.jar:$here/lib/*" dev.align4j.bench.Report --device cpu "${shapes[@]}" \
        --csv "$tmp/bench-cpu.csv" ${REPORT_ARGS:-} 2>&1 | tee "$out/bench-cpu.log"
  fi
  if [ -n "${JMH_ARGS:-}" ]; then
    say "JMH: $JMH_ARGS"
    # shellcheck disable=SC2086
    "$java" -cp "$here/benchmarks.jar:$here/lib/*" org.openjdk.jmh.Main $JMH_ARGS -jvm "$java" 2>&1 | tee "$out/jmh.log"
  fi
fi
say "results in $out; exit status $status"
exit $status
