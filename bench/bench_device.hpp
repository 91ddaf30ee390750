#pragma once
// The device a benchmark runs on: the CPU, or the first GPU where one can be used (else the run
// is skipped with the reason).
#include <benchmark/benchmark.h>

#include <optional>
#include <string>

#include "core/device.hpp"

namespace subq::bench {

inline std::optional<Device> device_or_skip(benchmark::State& state, DeviceKind kind) {
  if (kind == DeviceKind::CPU) return Device::cpu();
  if (cuda_available()) return Device::cuda();
  state.SkipWithError(("no GPU: " + cuda_status()).c_str());
  return std::nullopt;
}

}  // namespace subq::bench
