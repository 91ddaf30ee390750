#pragma once
// Device code: what every element-wise CUDA launcher of the library shares: the grid for n
// elements, the grid-stride loop over them, the launch error as a message, and the launch itself;
// and the device's multiprocessor count, for the launchers that size grids to it.
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

namespace subq::detail {

constexpr int kElementwiseThreads = 256;

/// Blocks for n elements at kElementwiseThreads per block; grid-stride loops cover the rest.
inline unsigned elementwise_blocks(std::int64_t n) {
  const std::int64_t blocks = (n + kElementwiseThreads - 1) / kElementwiseThreads;
  return unsigned(blocks < 65535 * 16 ? blocks : 65535 * 16);
}

/// The current device's multiprocessor count (1 where it cannot be read), asked once: launchers
/// size their grids to fill it.
inline int multiprocessors() {
  static const int count = [] {
    int device = 0, sms = 0;
    cudaGetDevice(&device);
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
    return sms > 0 ? sms : 1;
  }();
  return count;
}

/// Empty when the last launch succeeded, else its error.
inline std::string launch_status() {
  const cudaError_t err = cudaGetLastError();
  return err == cudaSuccess ? std::string() : std::string("kernel launch failed: ") + cudaGetErrorString(err);
}

/// kernel<<<blocks for n, kElementwiseThreads>>>(args...), or nothing when n is 0; the launch's
/// error message, empty on success.
template <class... Params, class... Args>
std::string launch_elementwise(void (*kernel)(Params...), std::int64_t n, Args... args) {
  if (n == 0) return {};
  kernel<<<elementwise_blocks(n), kElementwiseThreads>>>(args...);
  return launch_status();
}

}  // namespace subq::detail

/// for (i in [0, n)) over every thread of the grid.
#define SUBQ_GRID_STRIDE(i, n)                                                                 \
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < (n); \
       i += std::int64_t(gridDim.x) * blockDim.x)
