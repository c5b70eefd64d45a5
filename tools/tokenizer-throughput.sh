#!/usr/bin/env bash
# Encode/decode throughput of align4j's tokenizers (byte, GPT-2 via JTokkit, a Hugging Face tokenizer.json via DJL)
# on a text file, in one JVM: tools/tokenizer-throughput.sh [TEXT [HF_TOKENIZER_DIR]]
# (defaults: ../shared/data/tinyshakespeare.txt and ../shared/tokenizers/qwen3). Compiles the tests first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mvn -B -ntp -q -o test-compile
mvn -B -ntp -q -o dependency:build-classpath -Dmdep.outputFile=target/test-classpath.txt -Dmdep.includeScope=test
java -cp "target/classes:target/test-classes:$(cat target/test-classpath.txt)" dev.align4j.tokenizer.TokenizerThroughput \
  "${1:-../shared/data/tinyshakespeare.txt}" "${2:-../shared/tokenizers/qwen3}"
