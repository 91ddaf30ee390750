#!/usr/bin/env bash
# Builds the libFuzzer target for the safetensors parser with clang (ASan + UBSan) and runs it
# for the given number of seconds, seeded with the bad-input corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSUBQ_CUDA=OFF \
  -DSUBQ_FUZZ=ON -DSUBQ_BUILD_TESTS=OFF -DSUBQ_BUILD_BENCH=OFF -DSUBQ_BUILD_TOOLS=OFF >/dev/null
cmake --build build-fuzz --target fuzz_safetensors
corpus=build-fuzz/corpus
mkdir -p "$corpus"
cp tests/data/bad_safetensors/*.safetensors tests/fuzz/seeds/*.safetensors "$corpus"/
build-fuzz/bin/fuzz_safetensors -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 "$corpus" 2>&1 | tail -15
echo "fuzz: ${seconds}s without a crash"
