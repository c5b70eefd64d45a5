#!/usr/bin/env bash
# The bf16 storage question, measured (README "Benchmarks", bf16 weights): the GEMMs of a SmolLM2-135M-shaped model
# in fp32 and bf16, OpenBLAS vs PyTorch vs hand-written kernels, plus the exactness on stories260K's real weights.
#   bench/bf16-gemm.sh                  # everything (~30 min on a quiet 2-core machine)
#   REPS=3 NS=1 bench/bf16-gemm.sh      # decode shapes only
# Needs a built tree (mvn -o -DskipTests package: target/classes and the OpenBLAS jar in ~/.m2), Debian's
# python3-torch and libopenblas0-pthread (installed when missing), gcc. RESULTS: a folder for the logs.
# Runs each measurement twice: with OPENBLAS_CORETYPE as the environment sets it (these machines set Haswell, which
# OpenBLAS then uses: AVX2 kernels) and with it unset (OpenBLAS's own detection: Cooperlake, AVX-512 with BF16, on
# Zen 5), unsetting it for that command alone.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
reps=${REPS:-5}
ns=${NS:-2048,32,1}
results=${RESULTS:-$(mktemp -d)}
mkdir -p "$results"
cd "$root"

missing=()
for p in python3-torch libopenblas0-pthread; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi
[ -d target/classes/dev/align4j ] || { echo "build first: mvn -B -ntp -o -DskipTests package" >&2; exit 1; }
gcc -O3 -march=native -fopenmp -shared -fPIC bench/bf16_gemv.c -o "$results/libbf16_gemv.so"
mvn -B -ntp -q -o dependency:build-classpath -Dmdep.includeScope=runtime -Dmdep.outputFile="$results/cp.txt" >/dev/null
cp="target/classes:$(cat "$results/cp.txt")"

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, avx512_bf16: $(grep -q avx512_bf16 /proc/cpuinfo && echo yes || echo no); load $(cut -d' ' -f1-3 /proc/loadavg)"
for mode in env unset; do
  if [ $mode = env ]; then run=(env); else run=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE); fi
  echo "== OPENBLAS_CORETYPE $mode: one thread, every variant interleaved in one process"
  "${run[@]}" /usr/bin/python3 bench/bf16_gemm_peer.py --threads 1 --reps "$reps" --ns "$ns" \
      --kernels "$results/libbf16_gemv.so" | tee "$results/peer-1thread-$mode.txt"
  echo "== OPENBLAS_CORETYPE $mode: align4j Matmul (OpenBLAS sgemm), all cores"
  "${run[@]}" OMP_WAIT_POLICY=PASSIVE java -cp "$cp" bench/src/main/java/dev/align4j/bench/Bf16GemmBench.java --reps "$reps" \
      | tee "$results/align4j-$mode.txt"
done
echo "== exactness on stories260K"
/usr/bin/python3 bench/bf16_exactness.py | tee "$results/exactness.txt"
echo "results in $results"
