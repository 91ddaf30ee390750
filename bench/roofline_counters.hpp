#pragma once
// The roofline in Google Benchmark's output: each operator's run reports its fraction of the
// floor (bench/roofline.hpp) and names the ceiling that binds; the ceilings themselves are
// measured before the runs and printed in the header (copy GB/s, GEMM GFLOP/s, exp G/s).
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>

#include "bench/roofline.hpp"

namespace subq::bench {

/// Made just before a benchmark's timed loop, reported just after it: the counters
/// roofline_fraction (the floor of `cost` per iteration over the loop's wall time), bytes/s and
/// flops/s, and the label "<ceiling>-bound".
class RooflineReport {
 public:
  explicit RooflineReport(Device device) : device_(device), start_(std::chrono::steady_clock::now()) {}

  void report(benchmark::State& state, const Cost& cost) const {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const Floor floor = roofline_floor(cost, ceilings(device_));
    const double iterations = double(state.iterations());
    state.counters["roofline_fraction"] = floor.seconds * iterations / seconds;
    state.counters["bytes"] = benchmark::Counter(cost.bytes * iterations, benchmark::Counter::kIsRate);
    state.counters["flops"] = benchmark::Counter(cost.flops * iterations, benchmark::Counter::kIsRate);
    state.SetLabel(std::string(floor.bound) + "-bound");
  }

 private:
  Device device_;
  std::chrono::steady_clock::time_point start_;
};

/// BENCHMARK_MAIN, with the ceilings of the CPU (and of the GPU, where one can be used) measured
/// first and printed in the header.
inline int run_benchmarks(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  auto add = [](const std::string& device, const Ceilings& c) {
    benchmark::AddCustomContext(device + " copy GB/s", std::to_string(c.copy_bytes / 1e9));
    benchmark::AddCustomContext(device + " GEMM GFLOP/s", std::to_string(c.gemm_flops / 1e9));
    if (device == "cpu") benchmark::AddCustomContext(device + " exp G/s", std::to_string(c.exps / 1e9));
  };
  add("cpu", ceilings(Device::cpu()));
  if (cuda_available()) add("cuda", ceilings(Device::cuda()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace subq::bench
