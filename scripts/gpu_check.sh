#!/usr/bin/env bash
# The checks a lent GPU is spent on, as one prepared command (README: "A lent GPU").
#
#   scripts/gpu_check.sh prepare   here: builds build-gpu/ for sm_90 (H100, H200) and packs what the
#                                  GPU machine needs into build-gpu/carry/gpu_check.tar.xz (the
#                                  binaries, stripped, and the shared libraries its image lacks):
#                                  about 11 MB, which with the tracked tree (about 29 MB, the
#                                  fixtures most of it) stays under the device tool's 64 MiB
#   scripts/gpu_check.sh run       there, from the repository root, with build-gpu/carry carried:
#                                  every [cuda] test, --device cuda conformance, compute-sanitizer
#                                  memcheck and racecheck over the conformance cases, subq bench
#                                  --device cuda --quick, a 130M Mamba-1's decoding in each weight
#                                  format, and the kernel benchmarks' CUDA rows, with
#                                  the GPU's peak memory; summary.txt and logs go to $OUT (at most
#                                  7 files, as the device tool brings back 8)
#
# Each step has a time limit, and all of them together 8 minutes: a step that runs over is
# reported as such and the next one starts; a step with no time left is skipped. With the device
# tool:
#   run(command="scripts/gpu_check.sh run", carry=["build-gpu/carry"], timeout_s=600)
set -uo pipefail
cd "$(dirname "$0")/.."

prepare() {
  set -e
  export PATH="$PATH:/usr/local/cuda/bin"
  # Portable CPU code: the GPU machine's processor need not have this one's instruction sets.
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSUBQ_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DSUBQ_NATIVE=OFF >/dev/null
  cmake --build build-gpu --parallel "$(nproc)" --target subq_tests subq_cli bench_ssm bench_mixers bench_scan
  local pack=build-gpu/pack
  rm -rf "$pack" build-gpu/carry && mkdir -p "$pack/bin" "$pack/lib" build-gpu/carry
  for b in subq_tests subq bench_ssm bench_mixers bench_scan; do
    strip -o "$pack/bin/$b" "build-gpu/bin/$b"
  done
  # The libraries outside the C runtime and CUDA that the binaries link: the GPU machine's image has
  # CUDA 13 and a newer C++ runtime, not Debian's fmt, FFTW or Google Benchmark.
  ldd "$pack"/bin/* | awk '/=> \// {print $3}' | sort -u |
    grep -Ev '/(libc|libm|libstdc\+\+|libgcc_s|libpthread|libdl|librt|ld-linux[^/]*)\.so|/usr/local/cuda' |
    xargs -r -I{} cp -L {} "$pack/lib/"
  git rev-parse --short HEAD >"$pack/COMMIT"
  tar -C "$pack" -cJf build-gpu/carry/gpu_check.tar.xz bin lib COMMIT
  rm -rf "$pack"
  du -sh build-gpu/carry/gpu_check.tar.xz
  echo "gpu_check: build-gpu/carry ready; on the device: scripts/gpu_check.sh run (carry build-gpu/carry)"
}

# step NAME SECONDS LOG COMMAND...: runs the command under a time limit, appending its output to
# LOG, and one line to the summary.
step() {
  local name=$1 seconds=$2 log=$3
  shift 3
  local left=$((DEADLINE - SECONDS)) start=$SECONDS
  if ((left < 5)); then
    printf '%-34s %s\n' "$name" "SKIPPED: the run's 8 minutes are spent" >>"$SUMMARY"
    return 0
  fi
  ((seconds > left)) && seconds=$left
  echo "=== $name: $*" >>"$log"
  timeout --kill-after=10 "$seconds" "$@" >>"$log" 2>&1
  local rc=$?
  local verdict="ok"
  if ((rc == 124 || rc == 137)); then verdict="TIMED OUT after ${seconds}s"; elif ((rc != 0)); then verdict="FAILED (exit $rc)"; fi
  printf '%-34s %-26s %4ds  (%s)\n' "$name" "$verdict" $((SECONDS - start)) "$(basename "$log")" >>"$SUMMARY"
  return 0
}

run() {
  local out=${OUT:?run on the device machine, where \$OUT is set}
  DEADLINE=$((SECONDS + 480))
  # Unpacked with Python's tarfile, which reads xz wherever python3 is.
  local unpacked=/tmp/gpu_check
  rm -rf "$unpacked" && mkdir -p "$unpacked"
  python3 -c "import tarfile, sys; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" \
    build-gpu/carry/gpu_check.tar.xz "$unpacked" 2>/dev/null
  local bin=${GPU_CHECK_BIN:-$unpacked/bin}  # GPU_CHECK_BIN: another folder of these binaries, to try the script
  export LD_LIBRARY_PATH="$unpacked/lib:${LD_LIBRARY_PATH:-}"
  export SUBQ_SOURCE_DIR="$PWD"
  SUMMARY="$out/summary.txt"
  {
    echo "gpu_check $(date -u +%FT%TZ), commit $(cat "$unpacked/COMMIT" 2>/dev/null || echo unknown)"
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader 2>&1
    echo
  } >"$SUMMARY"
  # The GPU's memory in use, sampled through the whole run; its maximum closes the summary.
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 >/tmp/gpu_memory.csv 2>/dev/null &
  local sampler=$!

  step "[cuda] tests" 150 "$out/tests.log" "$bin/subq_tests" "[cuda]"
  grep -E "^(All tests passed|test cases:)" "$out/tests.log" | tail -1 | sed 's/^/  /' >>"$SUMMARY"
  echo "  of them skipped (no usable GPU): $(grep -c 'SKIPPED:' "$out/tests.log")" >>"$SUMMARY"
  step "conformance --device cuda" 60 "$out/conformance.log" "$bin/subq" check tests/conformance --device cuda
  tail -1 "$out/conformance.log" | sed 's/^/  /' >>"$SUMMARY"
  for format in bf16 q8_0; do  # the model cases with compact weights: the dot-product and widening kernels
    step "conformance --device cuda --dtype $format" 30 "$out/conformance.log" "$bin/subq" check tests/conformance \
      --device cuda --dtype "$format" --only hf
    tail -1 "$out/conformance.log" | sed 's/^/  /' >>"$SUMMARY"
  done

  # compute-sanitizer over the conformance cases: every family's kernels on small shapes.
  # racecheck on the families whose kernels share memory within a block (attention, the norms,
  # SSD, the selective scan, WKV-6/7; attention over a sliding window).
  if command -v compute-sanitizer >/dev/null; then
    local cs="compute-sanitizer --error-exitcode 9 --print-limit 20"
    step "memcheck: conformance" 120 "$out/sanitizer.log" $cs --tool memcheck "$bin/subq" check tests/conformance --device cuda
    for family in hf/jamba hf/mamba mamba2 fla sliding_window_attention; do
      step "racecheck: $family" 30 "$out/sanitizer.log" $cs --tool racecheck "$bin/subq" check tests/conformance \
        --device cuda --only "$family"
    done
    grep -E "ERROR SUMMARY|Device not supported" "$out/sanitizer.log" | sort | uniq -c | sed 's/^/  /' >>"$SUMMARY"
  else
    echo "compute-sanitizer: not on this machine" >>"$SUMMARY"
  fi

  step "subq bench --device cuda --quick" 90 "$out/bench.log" "$bin/subq" bench --device cuda --quick --out /tmp/subq_bench
  cp /tmp/subq_bench.csv /tmp/subq_bench.png "$out/" 2>/dev/null
  # A 130M-class Mamba-1's decoding in each weight format (the dot-product kernels over stored rows).
  step "subq bench --model mamba_130m --dtype (cuda)" 75 "$out/bench.log" bash -c \
    "'$bin/subq' init --config examples/mamba_130m.json --out /tmp/mamba_130m --seed 1 >/dev/null &&
     '$bin/subq' bench --model /tmp/mamba_130m --device cuda --quick --dtype f32,bf16,q8_0,q4_0 --out /tmp/subq_model"
  local gb=(--benchmark_min_time=0.05 --benchmark_counters_tabular=true)
  step "bench_ssm (cuda)" 60 "$out/bench.log" "$bin/bench_ssm" --benchmark_filter=cuda "${gb[@]}"
  step "bench_mixers (cuda)" 40 "$out/bench.log" "$bin/bench_mixers" --benchmark_filter=cuda "${gb[@]}"
  step "bench_scan (cuda)" 20 "$out/bench.log" "$bin/bench_scan" --benchmark_filter=cuda "${gb[@]}"

  kill "$sampler" 2>/dev/null
  echo >>"$SUMMARY"
  echo "GPU memory in use, peak over the run: $(sort -n /tmp/gpu_memory.csv | tail -1) MiB" >>"$SUMMARY"
  cat "$SUMMARY"
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: scripts/gpu_check.sh prepare|run" >&2; exit 2 ;;
esac
