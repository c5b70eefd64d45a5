#!/usr/bin/env bash
# Builds the native libraries (called by Maven in generate-resources; runnable by hand from the root):
#   target/native/libalign4j_cpu.a  — the CPU backend + dispatcher; JavaCPP links it into the JNI library
#   <classes>/dev/align4j/tensor/linux-x86_64/libalign4j_cuda.so — the CUDA backend, when nvcc is on PATH
# Environment: A4J_MARCH (default native; x86-64-v3 for a portable jar), A4J_CUDA=0 to skip CUDA,
# A4J_CUDA=1 to fail when nvcc is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/target}
march=${A4J_MARCH:-native}
mkdir -p "$out/native" "$out/classes/dev/align4j/tensor/linux-x86_64"

# -fassociative-math (with its prerequisites) lets g++ vectorise float sums; -ffinite-math-only (part of
# -ffast-math) is deliberately absent: -inf logits and NaN propagation must keep IEEE semantics.
cxxflags=(-std=c++17 -O3 -march="$march" -fopenmp -fPIC -fno-math-errno -fno-trapping-math
          -fassociative-math -fno-signed-zeros -Wall -Wno-unused-function -Werror
          -I"$root/native" -I"$root/cuda")
g++ "${cxxflags[@]}" -c "$root/native/align4j.cpp" -o "$out/native/align4j.o"
ar rcs "$out/native/libalign4j_cpu.a" "$out/native/align4j.o"
echo "align4j: built $out/native/libalign4j_cpu.a (-march=$march)"

cuda_lib="$out/classes/dev/align4j/tensor/linux-x86_64/libalign4j_cuda.so"
if [ "${A4J_CUDA:-auto}" = 0 ]; then
  echo "align4j: CUDA backend skipped (A4J_CUDA=0)"; rm -f "$cuda_lib"; exit 0
fi
if ! command -v nvcc >/dev/null 2>&1; then
  [ "${A4J_CUDA:-auto}" = 1 ] && { echo "align4j: A4J_CUDA=1 but nvcc is not on PATH" >&2; exit 1; }
  echo "align4j: nvcc not on PATH: CUDA backend not built (the CPU backend is complete without it)"
  rm -f "$cuda_lib"; exit 0
fi
# sm_80 (A100), sm_90 (H100/H200) machine code, plus compute_90 PTX for newer GPUs.
nvcc -std=c++17 -O3 -shared -Xcompiler -fPIC -cudart static \
     -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
     -gencode arch=compute_90,code=compute_90 \
     -Werror all-warnings -I"$root/native" -I"$root/cuda" \
     "$root/cuda/cuda_backend.cu" -o "$cuda_lib"
echo "align4j: built $cuda_lib ($(nvcc --version | tail -1))"
