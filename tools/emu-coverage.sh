#!/usr/bin/env bash
# Line coverage of the device code (cuda/*.cuh but the cuBLAS wrapper, and native/portability.h) under the
# emulated GPU: which lines the tests executed. Reads the gcov data that the emulated-GPU test run (mvn verify's
# `emulated-gpu` execution) and GpuEmulatorTest leave under target/native/emu, so run it after them:
#   mvn -B verify && tools/emu-coverage.sh          (or: tools/emu-coverage.sh --check, see below)
# Prints each file's executed/executable lines, the total, and every line not executed with its source text.
# A line counts as executable when the emulated build compiled code for it: the host-only branches (#else of
# __CUDA_ARCH__) and nvcc-only code are not part of that build and are not counted.
# --check: exit 1 when an executable line was not executed and is not listed, with its reason, in
# tools/emu-coverage-exempt.txt (lines "file:line  reason").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
emu="$root/target/native/emu"
check=0
[ "${1:-}" = --check ] && check=1
shopt -s nullglob
gcno=("$emu"/*.gcno)
[ ${#gcno[@]} -gt 0 ] || { echo "emu-coverage: no instrumented build in $emu: build first (mvn package)" >&2; exit 2; }
# An object whose .gcda is missing (its code never ran) counts as all lines not executed.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && for g in "${gcno[@]}"; do gcov -l -o "$emu" "$g" >/dev/null 2>&1; done)

# file:line of the exemptions, with their reasons
exempt="$root/tools/emu-coverage-exempt.txt"
[ -f "$exempt" ] || exempt=/dev/null

awk -v exempt="$exempt" -v check="$check" '
  BEGIN {
    while ((getline l < exempt) > 0) {
      if (l ~ /^[ \t]*(#|$)/) continue
      split(l, w, /[ \t]+/); why[w[1]] = substr(l, length(w[1]) + 1); sub(/^[ \t]+/, "", why[w[1]])
    }
  }
  FNR == 1 {
    # "<object>.cpp##<source>.gcov": the source file this report is about
    n = split(FILENAME, parts, "##"); src = parts[n]; sub(/\.gcov$/, "", src)
    keep = (src ~ /\.cuh$/ && src != "gemm_cublas.cuh") || src == "portability.h"
  }
  keep {
    count = $0; sub(/:.*/, "", count); gsub(/[ *]/, "", count)
    rest = $0; sub(/^[^:]*:[ ]*/, "", rest); line = rest; sub(/:.*/, "", line); line += 0
    if (line == 0 || count == "-") next
    text = rest; sub(/^[^:]*:/, "", text)
    key = src ":" line
    code[key] = text; files[src] = 1; if (line > last[src]) last[src] = line
    if (count ~ /^[0-9]+$/ && count + 0 > 0) hit[key] = 1
    else if (!(key in hit)) hit[key] = 0
  }
  END {
    nf = 0; for (f in files) names[++nf] = f
    for (i = 2; i <= nf; i++) for (j = i; j > 1 && names[j - 1] > names[j]; j--) { t = names[j]; names[j] = names[j - 1]; names[j - 1] = t }
    total = 0; done = 0; bad = 0
    printf "%-26s %9s %9s\n", "device code (emulated GPU)", "executed", "lines"
    for (i = 1; i <= nf; i++) {
      f = names[i]; e = 0; x = 0
      for (k in hit) if (index(k, f ":") == 1) { e++; x += hit[k] }
      printf "%-26s %9d %9d  %5.1f%%\n", f, x, e, 100 * x / e
      total += e; done += x
    }
    printf "%-26s %9d %9d  %5.1f%%\n", "total", done, total, 100 * done / total
    header = 0
    for (i = 1; i <= nf; i++) {
      f = names[i]
      for (l = 1; l <= last[f]; l++) {
        k = f ":" l
        if (!(k in hit) || hit[k]) continue
        if (!header) { print "\nnot executed:"; header = 1 }
        reason = (k in why) ? "   [" why[k] "]" : "   [NOT EXEMPT]"
        if (!(k in why)) bad++
        printf "  %-24s %s%s\n", k, substr(code[k], 1, 90), reason
      }
    }
    if (check && bad > 0) { printf "\nemu-coverage: %d device line(s) not executed and not exempt\n", bad; exit 1 }
  }
' "$tmp"/*.gcov
