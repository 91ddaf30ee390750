#pragma once
// Wall time of a piece of work, with the device work it queued: what every figure of `subq bench`
// divides by.
#include <algorithm>
#include <chrono>
#include <limits>

#include "core/device.hpp"

namespace subq::bench {

/// Seconds f takes, waiting at the end for what it queued on device.
template <class F>
double seconds(Device device, F f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  synchronize(device);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// The least of `repeats` timings of f (device work included, the device idle at each start): on a
/// shared machine some calls run slow.
template <class F>
double best_seconds(int repeats, Device device, F f) {
  double best = std::numeric_limits<double>::infinity();
  for (int i = 0; i < repeats; ++i) {
    synchronize(device);
    best = std::min(best, seconds(device, f));
  }
  return best;
}

}  // namespace subq::bench
