#!/usr/bin/env bash
# The [cuda] unit tests with every kernel run on the CPU by tests/cuda_emulation, under
# AddressSanitizer and UBSan: the CUDA paths checked (logic, indexing, bounds) where no GPU is lent.
# About half a minute to build and one to run on 2 cores; scripts/test.sh runs it after ctest.
# Needs build/ to be a CUDA build, whose compile commands name the sources and whose other objects
# it links; builds build-emulated/.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! grep -q "\.cu\.o:" build/build.ninja 2>/dev/null; then
  echo "cuda emulation: SKIPPED: build/ is not a CUDA build (no nvcc found)"
  exit 0
fi
python3 tests/cuda_emulation/build.py build build-emulated "$(nproc)"
# FFTW's plans live as long as the process, which LeakSanitizer would report at exit.
ASAN_OPTIONS=detect_leaks=0 SUBQ_SOURCE_DIR="$PWD" build-emulated/subq_tests "[cuda]" "$@"
