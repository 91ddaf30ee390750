#pragma once
// Bandwidth accounting shared by the benchmarks: a kernel that must read each input once and
// write each output once moves a known number of bytes; its GB/s is set against the copy
// bandwidth of the same device measured in the same run (copy_fraction = GB/s / copy GB/s).
#include <benchmark/benchmark.h>

#include "bench/copy_bandwidth.hpp"

namespace subq::bench {

/// Counters GB/s, copy_GB/s and copy_fraction for `bytes` moved per iteration.
inline void report_bandwidth(benchmark::State& state, double bytes, Device device) {
  const double total = bytes * double(state.iterations()), copy = copy_bandwidth(device);
  state.counters["GB/s"] = benchmark::Counter(total / 1e9, benchmark::Counter::kIsRate);
  state.counters["copy_GB/s"] = copy / 1e9;
  state.counters["copy_fraction"] = benchmark::Counter(total / copy, benchmark::Counter::kIsRate);
}

}  // namespace subq::bench
