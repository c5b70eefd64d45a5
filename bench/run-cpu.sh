#!/usr/bin/env bash
# align4j vs naive Java vs PyTorch (CPU) vs the memory floor, side by side in one run, every kernel family.
#   bench/run-cpu.sh                          # all families; logprobs at all four shapes (the largest needs
#                                             # ~9 GB RAM; PyTorch skips what won't fit)
#   SHAPES=4096x32000 REPS=5 bench/run-cpu.sh # a subset; extra arguments go to the Report main
#   FAMILIES=policyloss,gae bench/run-cpu.sh  # some families only
# Environment: FAMILIES (default all: logprobs,policyloss,gae,klshaping,preference,reward,rmsnorm,swiglu,attention), SHAPES
# (logprobs NxV,...), BT_SHAPES (policyloss/gae/klshaping BxT,...; default 256x1024), PAIRS (preference/reward
# B,...; default 64,1024), NC_SHAPES (rmsnorm NxC,...; default 8192x2048,65536x128), SWIGLU_SHAPES (swiglu
# NxF,...; default 4096x1536), ATTN_SHAPES (attention BxHxHkvxTxD,...; default 1x12x12x1024x64,4x9x3x512x64), REPS
# (default 5), WARMUP (default 2), CLOCK=thread-cpu (attention only: one thread on each side, timed in the calling
# thread's CPU time, for a machine shared with other jobs; default wall), NO_BUILD=1 to reuse
# bench/target/benchmarks.jar,
# RESULTS (a folder for align4j.csv and the logs; default a temp folder).
# Installs Debian's python3-torch and libopenblas0-pthread when missing (without an optimised BLAS the
# PyTorch peer is not a fair one: DESIGN.md, Performance).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shapes=${SHAPES:-4096x32000,4096x128256,16384x32000,16384x128256}
families=${FAMILIES:-logprobs,policyloss,gae,klshaping,preference,reward,rmsnorm,swiglu,attention}
bt_shapes=${BT_SHAPES:-256x1024}
pairs=${PAIRS:-64,1024}
nc_shapes=${NC_SHAPES:-8192x2048,65536x128}
swiglu_shapes=${SWIGLU_SHAPES:-4096x1536}
attn_shapes=${ATTN_SHAPES:-1x12x12x1024x64,4x9x3x512x64}
reps=${REPS:-5}
clock=${CLOCK:-wall}
threads=$(nproc)
if [ "$clock" = thread-cpu ]; then
  export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
  threads=1
fi
warmup=${WARMUP:-2}
results=${RESULTS:-$(mktemp -d)}
mkdir -p "$results"

missing=()
for p in python3-torch libopenblas0-pthread; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  echo "[run-cpu] installing ${missing[*]} (apt-get; a few minutes)"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi

if [ "${NO_BUILD:-0}" != 1 ] || [ ! -f "$root/bench/target/benchmarks.jar" ]; then
  echo "[run-cpu] building align4j and the benchmarks"
  (cd "$root" && mvn -q install -DskipTests)
  (cd "$root/bench" && mvn -q package)
fi

echo "[run-cpu] $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
java -cp "$root/bench/target/benchmarks.jar" dev.align4j.bench.Report --device cpu --families "$families" \
     --shapes "$shapes" --bt-shapes "$bt_shapes" --pairs "$pairs" --nc-shapes "$nc_shapes" \
     --swiglu-shapes "$swiglu_shapes" --attn-shapes "$attn_shapes" --reps "$reps" --warmup "$warmup" \
     --clock "$clock" --csv "$results/align4j.csv" "$@" 2>&1 \
     | tee "$results/align4j.log"
echo
/usr/bin/python3 "$root/bench/torch_peer.py" --families "$families" --shapes "$shapes" --bt-shapes "$bt_shapes" \
     --pairs "$pairs" --nc-shapes "$nc_shapes" --swiglu-shapes "$swiglu_shapes" --attn-shapes "$attn_shapes" \
     --reps "$reps" --warmup "$warmup" --clock "$clock" \
     --threads "$threads" --align4j-csv "$results/align4j.csv" 2>&1 | tee "$results/torch.log"
echo "[run-cpu] results in $results"
