#!/usr/bin/env bash
# The whole test suite: install dependencies, build, run ctest (unit, property, conformance, CLI
# and install/consumer tests), run the [cuda] tests on the CPU through the CUDA emulation (where
# build/ is a CUDA build), then fuzz each input parser for its share of a fixed time.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
(cd build && ctest --output-on-failure --timeout 900)
scripts/cuda_emulation.sh
scripts/fuzz.sh "${SUBQ_FUZZ_SECONDS:-60}"
