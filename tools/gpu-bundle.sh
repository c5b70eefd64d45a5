#!/usr/bin/env bash
# Packs a self-contained bundle for a CUDA machine that has no Java and no Maven (the device tool's
# machines: see DESIGN.md, "GPU sessions"):
#   tools/out/gpu-bundle/        jre/ (jlink'd from the JDK 17 here), lib/ (align4j.jar built for
#                                x86-64-v3 with the CUDA backend, its dependencies, the JUnit console),
#                                test-classes/, benchmarks.jar, torch_peer.py, native/libgomp.so.1,
#                                run-gpu.sh, BUILD-INFO.txt
#   tools/out/gpu-bundle.tar.gz  the same, packed
# Both must fit what one device call carries (64 MiB, with the working tree). Use:
#   tools/gpu-bundle.sh            then, with the device tool, from the repo root:
#   run(command="bash tools/out/gpu-bundle/run-gpu.sh", carry=["tools/out/gpu-bundle"])
# Environment: JDK (default /usr/lib/jvm/java-17-openjdk-amd64), A4J_CUDA (default 1 when nvcc is on
# PATH: the bundle is pointless without the CUDA backend), NO_TAR=1 to skip the tarball.
# Side effect: installs the x86-64-v3 build of align4j into ~/.m2 (bench/ shades it); a later plain
# `mvn install` puts the -march=native one back.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/tools/out/gpu-bundle}
jdk=${JDK:-/usr/lib/jvm/java-17-openjdk-amd64}
limit=$((64 << 20))
cuda=${A4J_CUDA:-$(command -v nvcc >/dev/null 2>&1 && echo 1 || echo auto)}

say() { echo "[gpu-bundle] $*"; }
[ -d "$jdk/jmods" ] || { echo "gpu-bundle: $jdk has no jmods (needed by jlink)" >&2; exit 1; }

say "building align4j (-march=x86-64-v3, CUDA=$cuda) and its test classes"
(cd "$root" && mvn -q -Dalign4j.march=x86-64-v3 -Dalign4j.cuda="$cuda" -DskipTests install)
jar=$(ls "$root"/target/align4j-*.jar | grep -v -e sources -e javadoc | head -1)
if [ "$cuda" = 1 ] && ! unzip -l "$jar" | grep -q libalign4j_cuda.so; then
  echo "gpu-bundle: $jar has no libalign4j_cuda.so" >&2; exit 1
fi
say "building bench/target/benchmarks.jar"
(cd "$root/bench" && mvn -q package)

rm -rf "$out" "$out.tar.gz"
mkdir -p "$out/lib" "$out/native"
cp "$jar" "$out/lib/align4j.jar"
cp -r "$root/target/test-classes" "$out/test-classes"
# The benchmarks' own classes only (the shaded benchmarks.jar repeats every dependency, OpenBLAS included:
# +29 MB); their dependencies (JMH) go to lib/ with the rest.
cp "$(ls "$root"/bench/target/align4j-bench-*.jar | head -1)" "$out/benchmarks.jar"
cp "$root/bench/torch_peer.py" "$out/"
(cd "$root/bench" && mvn -q dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$out/lib" \
   -DexcludeArtifactIds=align4j)
cp "$root/tools/gpu/run-gpu.sh" "$out/run-gpu.sh"
chmod +x "$out/run-gpu.sh"

# The tests' class path: align4j's runtime and test dependencies, less JUnit (the console jar has it).
(cd "$root" && mvn -q dependency:copy-dependencies -DincludeScope=test -DoutputDirectory="$out/lib" \
   -DexcludeGroupIds=org.junit.jupiter,org.junit.platform,org.opentest4j,org.apiguardian)
junit=$(sed -n 's:.*<junit.version>\(.*\)</junit.version>.*:\1:p' "$root/pom.xml" | head -1)
platform="1.${junit#5.}"  # JUnit 5.x.y ships with Platform 1.x.y
say "JUnit $junit -> junit-platform-console-standalone $platform"
(cd "$root" && mvn -q dependency:copy -Dartifact="org.junit.platform:junit-platform-console-standalone:$platform" \
   -DoutputDirectory="$out/lib")
mv "$out/lib/junit-platform-console-standalone-$platform.jar" "$out/lib/junit-console.jar"

# Hugging Face tokenizers (DJL's binding: an 18 MB jar of natives for four platforms) and what only it needs: the GPU
# tests do not use them, and the bundle would not fit 64 MiB with them. The tokenizer tests skip when DJL is absent
# (HfTokenizer.available()); the Jinja chat-template tests need nothing and run.
rm -f "$out"/lib/tokenizers-0.*.jar "$out"/lib/api-0.*.jar "$out"/lib/gson-*.jar "$out"/lib/error_prone_annotations-*.jar \
      "$out"/lib/jna-*.jar "$out"/lib/commons-compress-*.jar "$out"/lib/commons-codec-*.jar "$out"/lib/commons-io-*.jar \
      "$out"/lib/slf4j-api-*.jar

# OpenBLAS: align4j loads the BLAS-only preset (openblas_nolapack), so the LAPACK JNI libraries and the
# headers (~50 MB unpacked) are dropped from the natives jar.
command -v zip >/dev/null || { echo "gpu-bundle: needs zip (apt-get install zip)" >&2; exit 1; }
for j in "$out"/lib/openblas-*-linux-x86_64.jar; do
  zip -q -d "$j" '*/libjniopenblas.so' '*/libjniopenblas_full.so' '*/include/*' >/dev/null
done

# JTokkit: align4j loads only GPT-2's r50k_base, through the lazy registry (tokenizer.Gpt2Tokenizer); the other
# encodings' tables (~2.5 MB compressed) would never be read, and the bundle is at the 64 MiB limit.
for j in "$out"/lib/jtokkit-*.jar; do
  zip -q -d "$j" '*/o200k_base.tiktoken' '*/cl100k_base.tiktoken' '*/p50k_base.tiktoken' >/dev/null
done

# libgomp: the JNI library links it dynamically (OpenMP); a CUDA image need not have it.
gomp=$(ldconfig -p | awk '/libgomp.so.1 .*x86-64/ {print $NF; exit}')
[ -n "$gomp" ] || gomp=/usr/lib/x86_64-linux-gnu/libgomp.so.1
cp -L "$gomp" "$out/native/libgomp.so.1"

# A Java runtime with what align4j, JUnit and JMH use (jdeps), plus the modules named in DESIGN.md, less
# java.desktop: only commons-math3's geometry (a JMH dependency, never used by JMH) refers to it, and it
# is ~10 MB. Native libraries are stripped of their symbol tables (libjvm.so: 24 -> 20 MB).
found=$("$jdk/bin/jdeps" --multi-release 17 --ignore-missing-deps --print-module-deps \
        --class-path "$out/lib/*" "$out"/lib/*.jar "$out/benchmarks.jar" "$out/test-classes" 2>/dev/null | tail -1)
mods=$(echo "java.base,java.logging,jdk.unsupported,java.management,jdk.management,$found" | tr , '\n' \
       | grep -v -x -e java.desktop -e '' | sort -u | paste -sd, -)
say "jlink modules: $mods"
"$jdk/bin/jlink" --module-path "$jdk/jmods" --add-modules "$mods" --strip-debug --no-header-files \
   --no-man-pages --compress=2 --output "$out/jre"
if command -v strip >/dev/null 2>&1; then
  find "$out/jre" -name '*.so' -exec strip --strip-unneeded {} +
  strip --strip-unneeded "$out"/jre/bin/* 2>/dev/null || true
fi

{
  echo "built:   $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m), $(hostname)"
  echo "commit:  $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"
  echo "march:   x86-64-v3"
  echo "cuda:    $(command -v nvcc >/dev/null 2>&1 && nvcc --version | tail -1 || echo 'no nvcc')"
  echo "java:    $("$out/jre/bin/java" -version 2>&1 | head -1)"
  echo "modules: $mods"
  echo "jars:    $(cd "$out/lib" && ls | tr '\n' ' ')"
} > "$out/BUILD-INFO.txt"

"$out/jre/bin/java" -version >/dev/null 2>&1 || { echo "gpu-bundle: the jlink'd java does not start" >&2; exit 1; }
size=$(du -sb "$out" | cut -f1)
say "$out: $((size >> 20)) MiB ($size bytes)"
if [ "${NO_TAR:-0}" != 1 ]; then
  tar -C "$(dirname "$out")" -czf "$out.tar.gz" "$(basename "$out")"
  tsize=$(stat -c %s "$out.tar.gz")
  say "$out.tar.gz: $((tsize >> 20)) MiB ($tsize bytes)"
fi
if [ "$size" -gt "$limit" ]; then
  echo "gpu-bundle: the bundle is $((size >> 20)) MiB, over the 64 MiB a device call carries" >&2; exit 1
fi
