#!/usr/bin/env bash
# The main job: install dependencies, build, run the conformance suite and the scan benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build/bin/subq check tests/conformance || true   # families of later issues are reported as SKIP
build/bin/subq check tests/conformance/scan
build/bin/bench_scan --benchmark_filter='L:(1024|1048576)/' --benchmark_counters_tabular=true
