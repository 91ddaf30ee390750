#!/usr/bin/env bash
# The [cuda] unit tests with every kernel run on the CPU by tests/cuda_emulation, under
# AddressSanitizer and UBSan: the CUDA paths checked (logic, indexing, bounds) where no GPU is lent.
# About 7 minutes to build and 10 to run on 2 cores, so it is not part of scripts/test.sh.
# Needs build/ to be a CUDA build, whose compile commands name the sources; builds build-emulated/.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! grep -q "\.cu\.o:" build/build.ninja 2>/dev/null; then
  echo "cuda emulation: SKIPPED: build/ is not a CUDA build (no nvcc found)"
  exit 0
fi
python3 tests/cuda_emulation/build.py build build-emulated "$(nproc)"
# FFTW's plans live as long as the process, which LeakSanitizer would report at exit; ASan's
# warning that it cannot fully follow swapcontext (the emulated threads are fibers) is dropped.
ASAN_OPTIONS=detect_leaks=0 SUBQ_SOURCE_DIR="$PWD" build-emulated/subq_tests "[cuda]" "$@" 2>&1 |
  grep -v "ASan doesn't fully support makecontext/swapcontext"
