#pragma once
// Bandwidth accounting shared by the benchmarks: a kernel that must read each input once and
// write each output once moves a known number of bytes; its GB/s is set against the copy
// bandwidth of the same device measured in the same run (copy_fraction = GB/s / copy GB/s).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>

#include "core/device.hpp"
#include "core/tensor.hpp"

namespace subq::bench {

/// Copy bandwidth (bytes read + written per second) between two 256 MiB buffers, cached per device.
inline double copy_bandwidth(Device device) {
  static double cpu = 0, gpu = 0;
  double& cached = device.is_cpu() ? cpu : gpu;
  if (cached > 0) return cached;
  const std::int64_t n = std::int64_t(64) << 20;
  const Tensor src = Tensor::zeros({n}, DType::F32, device), dst = Tensor::zeros({n}, DType::F32, device);
  for (int i = 0; i < 5; ++i) {
    synchronize(device);
    const auto t0 = std::chrono::steady_clock::now();
    dst.copy_from(src);
    synchronize(device);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    cached = std::max(cached, 2.0 * double(n) * 4 / s);
  }
  return cached;
}

/// Counters GB/s, copy_GB/s and copy_fraction for `bytes` moved per iteration.
inline void report_bandwidth(benchmark::State& state, double bytes, Device device) {
  const double total = bytes * double(state.iterations()), copy = copy_bandwidth(device);
  state.counters["GB/s"] = benchmark::Counter(total / 1e9, benchmark::Counter::kIsRate);
  state.counters["copy_GB/s"] = copy / 1e9;
  state.counters["copy_fraction"] = benchmark::Counter(total / copy, benchmark::Counter::kIsRate);
}

}  // namespace subq::bench
