// CUDA kernels of RWKV's token shift; recurrent/token_shift.cpp's CPU
// loops are their spec.
#include <cuda_runtime.h>

#include "core/cuda_launch.cuh"
#include "recurrent/token_shift_cuda.hpp"

namespace subq::recurrent::detail {

namespace {

using subq::detail::launch_elementwise;

__global__ void token_shift_kernel(float* s, const float* x, const float* carried, std::int64_t length,
                                   std::int64_t features, std::int64_t n, bool delta) {
  SUBQ_GRID_STRIDE(i, n) {
    const std::int64_t t = i / features % length, b = i / (features * length), f = i % features;
    const float before = t > 0 ? x[i - features] : carried ? carried[b * features + f] : 0.0f;
    s[i] = delta ? before - x[i] : before;
  }
}

}  // namespace

std::string launch_token_shift(float* s, const float* x, const float* carried, std::int64_t batch, std::int64_t length,
                               std::int64_t features, bool delta) {
  const std::int64_t n = batch * length * features;
  return launch_elementwise(token_shift_kernel, n, s, x, carried, length, features, n, delta);
}

}  // namespace subq::recurrent::detail
