#pragma once
// Wall time of a piece of work, with the device work it queued: what every figure of `subq bench`
// divides by.
#include <chrono>

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

}  // namespace subq::bench
