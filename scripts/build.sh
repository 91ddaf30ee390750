#!/usr/bin/env bash
# Configures and builds subq in build/ (CUDA when nvcc is found). Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/cuda/bin"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build --parallel "$(nproc)"
