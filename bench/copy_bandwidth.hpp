#pragma once
// The copy bandwidth of a device, the floor every "each input read once, each output written
// once" figure is set against: bytes read + written per second between two 256 MiB buffers,
// measured once per device and process.
#include "bench/timing.hpp"
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
  cached = 2.0 * double(n) * 4 / best_seconds(5, device, [&] { dst.copy_from(src); });
  return cached;
}

}  // namespace subq::bench
