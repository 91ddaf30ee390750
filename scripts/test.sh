#!/usr/bin/env bash
# The whole test suite: install dependencies, build, run ctest (unit, property, conformance, CLI
# and install/consumer tests), run the [cuda] tests on the CPU through the CUDA emulation (where
# build/ is a CUDA build), fuzz each input parser for its share of a fixed time, then run the unit
# tests under ASan + UBSan (a reduced grid, in the fuzz targets' build) and the concurrency tests
# under TSan.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
(cd build && ctest --output-on-failure --timeout 900 -j "$(nproc)")
scripts/cuda_emulation.sh
scripts/fuzz.sh "${SUBQ_FUZZ_SECONDS:-60}"
scripts/sanitize.sh address
scripts/sanitize.sh thread
