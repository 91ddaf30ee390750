#!/usr/bin/env bash
# Long-stream stability, nightly-sized: every recurrent operator streams TOKENS tokens (default
# 2^20) in float32 and float64 from the same operands, compared at 4K, 16K, 64K, 256K and 1M
# (tests/long_stream/long_stream.cpp). 24 minutes on 2 cores at 1M beside a build (about 13
# alone, by the 64K run); ctest runs 16K.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build --target subq_long_stream >/dev/null
build/bin/subq_long_stream "${1:-1048576}" "${@:2}"
