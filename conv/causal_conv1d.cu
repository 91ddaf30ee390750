// CUDA causal depthwise convolution, the CPU path in conv/causal_conv1d.cpp being its spec: one
// thread per output, channels fastest so that reads of a transposed (batch, length, channels)
// projection are coalesced; the inputs before t = 0 come from the initial state. A second pass
// writes the last width - 1 inputs as the final state.
#include <cuda_runtime.h>

#include "conv/causal_conv1d_cuda.hpp"
#include "core/cuda_launch.cuh"
#include "core/math.hpp"

namespace subq::conv::detail {

namespace {

using subq::detail::launch_elementwise;

// Input j of row (b, c): x for j >= 0, else the initial state's entry width - 1 + j.
__device__ __forceinline__ float input_at(const CausalConv1dParams& p, std::int64_t b, std::int64_t c, std::int64_t j) {
  if (j >= 0) return p.x[b * p.x_stride_batch + c * p.x_stride_channel + j * p.x_stride_t];
  return p.initial_state ? p.initial_state[(b * p.channels + c) * (p.width - 1) + p.width - 1 + j] : 0.0f;
}

__global__ void causal_conv1d_kernel(CausalConv1dParams p) {
  SUBQ_GRID_STRIDE(i, p.batch * p.length * p.channels) {
    const std::int64_t c = i % p.channels, t = i / p.channels % p.length, b = i / (p.channels * p.length);
    float acc = p.bias ? p.bias[c] : 0.0f;
    for (std::int64_t k = 0; k < p.width; ++k)
      acc += p.weight[c * p.w_stride_channel + k * p.w_stride_k] * input_at(p, b, c, t - (p.width - 1) + k);
    p.out[(b * p.channels + c) * p.length + t] = activation(p.activation, acc);
  }
}

__global__ void causal_conv1d_state_kernel(CausalConv1dParams p) {
  const std::int64_t kept = p.width - 1;
  SUBQ_GRID_STRIDE(i, p.batch * p.channels * kept) {
    const std::int64_t k = i % kept, c = i / kept % p.channels, b = i / (kept * p.channels);
    p.final_state[i] = input_at(p, b, c, p.length - kept + k);
  }
}

}  // namespace

std::string launch_causal_conv1d(const CausalConv1dParams& p) {
  const std::int64_t outputs = p.batch * p.channels * p.length, kept = p.batch * p.channels * (p.width - 1);
  if (std::string error = launch_elementwise(causal_conv1d_kernel, outputs, p); !error.empty()) return error;
  return launch_elementwise(causal_conv1d_state_kernel, kept, p);
}

}  // namespace subq::conv::detail
