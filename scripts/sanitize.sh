#!/usr/bin/env bash
# The unit tests under sanitizers, CUDA off (scripts/cuda_emulation.sh covers the kernels):
#   scripts/sanitize.sh address   ASan + UBSan over the unit tests but the long-stream, benchmark
#                                 and concurrency ones (build-fuzz, shared with the fuzz targets)
#   scripts/sanitize.sh thread    TSan over the concurrency tests (the thread pool, the block
#                                 cache, one model shared by 4 user threads; build-tsan)
# Any report fails the run. Extra arguments go to the test program (a Catch2 filter).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sanitized_build.sh
mode="${1:-}"
shift || true
configure_sanitized "$mode"
case $mode in
  address)
    cmake --build build-fuzz --target subq_tests
    # FFTW's plans live as long as the process, which LeakSanitizer would report at exit.
    # The reduced grid: [long] runs 10^5 steps, a whole text or many models (9 min of 12 under
    # ASan), [bench] times, [concurrency] is TSan's.
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 SUBQ_SOURCE_DIR="$PWD" \
      build-fuzz/bin/subq_tests "${@:-~[long]~[bench]~[concurrency]}"
    ;;
  thread)
    cmake --build build-tsan --target subq_concurrency_tests
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 SUBQ_SOURCE_DIR="$PWD" build-tsan/bin/subq_concurrency_tests "$@"
    ;;
esac
