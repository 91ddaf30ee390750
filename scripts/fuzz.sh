#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz: safetensors, tokenizer.json, token files, jsonl
# documents, config.json) with clang (ASan + UBSan) and runs each for its share of the given seconds, seeded
# with its seeds and its bad-input corpus. A finding stops the run (non-zero exit) and leaves
# the input in build-fuzz/findings/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
targets=(safetensors tokenizer token_file documents config)
source scripts/sanitized_build.sh
configure_sanitized address
cmake --build build-fuzz --target "${targets[@]/#/fuzz_}"
share=$(( seconds / ${#targets[@]} > 1 ? seconds / ${#targets[@]} : 1 ))
mkdir -p build-fuzz/findings
for target in "${targets[@]}"; do
  corpus=build-fuzz/corpus/$target
  mkdir -p "$corpus"
  case $target in
    safetensors) cp tests/data/bad_safetensors/*.safetensors tests/fuzz/seeds/safetensors/* "$corpus"/ ;;
    tokenizer) cp tests/data/bad_inputs/tokenizer/*.json tests/fuzz/seeds/tokenizer/* "$corpus"/ ;;
    token_file) cp tests/data/bad_inputs/tokens/* tests/fuzz/seeds/tokens/* "$corpus"/ ;;
    documents) cp tests/data/bad_inputs/documents/*.jsonl tests/fuzz/seeds/documents/* "$corpus"/ ;;
    config) cp tests/fuzz/seeds/config/* "$corpus"/ ;;
  esac
  echo "fuzz_$target: ${share}s"
  build-fuzz/bin/fuzz_$target -max_total_time="$share" -max_len=4096 -print_final_stats=1 \
    -artifact_prefix=build-fuzz/findings/"$target"- "$corpus" 2>&1 | tail -4
done
echo "fuzz: ${share}s for each of ${#targets[@]} targets without a crash"
