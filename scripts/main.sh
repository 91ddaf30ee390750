#!/usr/bin/env bash
# The main job: install dependencies, build, run the conformance suite, score the tiny model on the
# held-out text, run the quick long-context benchmark and the scan and SSM kernel benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build/bin/subq check tests/conformance
build/bin/subq check tests/conformance/scan
build/bin/subq ppl --model tests/data/tiny-jamba-moby --text tests/data/moby_dick_heldout.txt
build/bin/subq bench --quick --out build/subq_bench
build/bin/bench_scan --benchmark_filter='L:(1024|1048576)/' --benchmark_counters_tabular=true
build/bin/bench_ssm --benchmark_filter='selective_scan_(cpu/D:2048/L:2048|cuda/D:2048/L:(16384|262144))/' \
  --benchmark_counters_tabular=true
