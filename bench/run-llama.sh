#!/usr/bin/env bash
# Llama-family performance, align4j vs PyTorch (CPU) side by side in one run (issue 14, item 8): the training step
# of a SmolLM2-135M-shaped random model, KV-cache generation at batch 1 and 32, peak memory, the compute floor,
# and where align4j's step time goes. Processes alternate (align4j, align4j with the chunked LM head, PyTorch,
# then again for each round), so that a machine shared with other work slows them alike; the table is the median
# over every measured step of every round, and bench/llama_summary.py prints the ratios.
#   bench/run-llama.sh                               # training + generation + op breakdown (~15-25 min on 2 shared cores)
#   PARTS=train ROUNDS=3 bench/run-llama.sh          # the training step only
#   PARTS=gen GEN_BATCHES=1 bench/run-llama.sh       # generation at batch 1 only
#   NO_BUILD=1 THREADS=2 bench/run-llama.sh          # both on 2 threads (see THREADS below)
# Environment (defaults):
#   PARTS=train,gen,ops   which parts; ops = LlamaOpsBench, the per-op CPU time of align4j's step
#   B=1 T=512             training batch and length; CHUNK=256 rows per LM-head chunk for the chunked run (0: skip)
#   STEPS=2 WARMUP=1      measured and warm-up training steps per process; ROUNDS=2 alternations
#   GEN_BATCHES=1,32 PROMPT=64 NEW=128   generation; NAIVE_NEW=32: the no-cache baseline (batch 1, fewer tokens)
#   THREADS=1             OpenBLAS and OpenMP threads of both sides (torch.set_num_threads too). 1 by default: on
#                         a 2-core machine shared with other work, a 2-thread OpenBLAS spends most of its CPU in
#                         spin-waits between its threads whenever one is descheduled (perf showed it; README)
#   KEEP_CORETYPE=1       keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE when the machine sets them (this workplace sets
#                         Haswell, which halves AVX-512 machines' GEMM speed); by default both are unset for these
#                         processes only, as for a user's machine
#   RESULTS               a folder for the logs (default a new temp folder); NO_BUILD=1 reuses bench/target/benchmarks.jar
#   MVN_ARGS              extra Maven arguments for the build (e.g. -o -Dmaven.repo.local=...)
#   MODEL_ARGS            another shape for every side, e.g. "--layers 2 --vocab 1000" (a quick check of the script)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
parts=${PARTS:-train,gen,ops}
b=${B:-1}; t=${T:-512}; chunk=${CHUNK:-256}; steps=${STEPS:-2}; warmup=${WARMUP:-1}; rounds=${ROUNDS:-2}
gen_batches=${GEN_BATCHES:-1,32}; prompt=${PROMPT:-64}; new=${NEW:-128}; naive_new=${NAIVE_NEW:-32}
threads=${THREADS:-1}
model=(${MODEL_ARGS:-})
results=${RESULTS:-$(mktemp -d)}
mkdir -p "$results"

missing=()
for p in python3-torch libopenblas0-pthread; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  echo "[run-llama] installing ${missing[*]} (apt-get; a few minutes)"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi
if [ "${NO_BUILD:-0}" != 1 ] || [ ! -f "$root/bench/target/benchmarks.jar" ]; then
  echo "[run-llama] building align4j and the benchmarks"
  (cd "$root" && mvn -q ${MVN_ARGS:-} install -DskipTests)
  (cd "$root/bench" && mvn -q ${MVN_ARGS:-} package)
fi

export OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads"
if [ "${KEEP_CORETYPE:-0}" != 1 ]; then unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; fi
java=(java -Xmx1g -cp "$root/bench/target/benchmarks.jar")
py=(/usr/bin/python3 "$root/bench/torch_llama_peer.py")
run() {  # run LOG CMD...: append the command and its output to LOG, echo the step lines
  local log=$1; shift
  echo "\$ $*" >>"$log"
  "$@" 2>&1 | tee -a "$log" | grep -E '^(step|run|align4j on|torch |read|RESULT)' | cut -c1-200
}
{
  echo "[run-llama] $(date -u +%FT%TZ) $(nproc --all) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo),"\
       "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "[run-llama] threads $threads, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}, git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
} | tee "$results/machine.txt"

if [[ ,$parts, == *,train,* ]]; then
  for r in $(seq 1 "$rounds"); do
    echo "[run-llama] training round $r/$rounds (B=$b, T=$t)"
    run "$results/train.log" "${java[@]}" dev.align4j.bench.LlamaTrainBench "${model[@]}" --B "$b" --T "$t" --steps "$steps" --warmup "$warmup" --chunk 0
    if [ "$chunk" != 0 ]; then
      run "$results/train.log" "${java[@]}" dev.align4j.bench.LlamaTrainBench "${model[@]}" --B "$b" --T "$t" --steps "$steps" --warmup "$warmup" --chunk "$chunk"
    fi
    run "$results/train.log" "${py[@]}" train "${model[@]}" --B "$b" --T "$t" --steps "$steps" --warmup "$warmup" --threads "$threads"
  done
fi
if [[ ,$parts, == *,gen,* ]]; then
  for r in $(seq 1 "$rounds"); do
    for gb in ${gen_batches//,/ }; do
      echo "[run-llama] generation round $r/$rounds, batch $gb (prompt $prompt, $new new tokens)"
      run "$results/gen.log" "${java[@]}" dev.align4j.bench.LlamaGenerateBench "${model[@]}" --B "$gb" --prompt "$prompt" --new "$new"
      run "$results/gen.log" "${py[@]}" gen "${model[@]}" --B "$gb" --prompt "$prompt" --new "$new" --threads "$threads"
    done
  done
  if [ "$naive_new" != 0 ]; then
    echo "[run-llama] no-cache baseline, batch 1, $naive_new new tokens"
    run "$results/gen.log" "${java[@]}" dev.align4j.bench.LlamaGenerateBench "${model[@]}" --B 1 --prompt "$prompt" --new "$naive_new" --naive true
  fi
fi
if [[ ,$parts, == *,ops,* ]]; then
  echo "[run-llama] align4j's step op by op (B=$b, T=$t)"
  "${java[@]}" dev.align4j.bench.LlamaOpsBench "${model[@]}" --B "$b" --T "$t" --reps 3 2>&1 | tee "$results/ops.log" | grep -v '^RESULT'
fi
echo
/usr/bin/python3 "$root/bench/llama_summary.py" "$results" "${model[@]}" | tee "$results/summary.md"
echo "[run-llama] results in $results"
