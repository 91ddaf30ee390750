// CUDA kernels of the mixture of experts' per-token steps, one thread per token (routing) or per
// output element (combining); moe/moe_routing.hpp holds the definitions the CPU loops share.
#include <cuda_runtime.h>

#include "core/cuda_launch.cuh"
#include "moe/moe_cuda.hpp"
#include "moe/moe_routing.hpp"

namespace subq::moe::detail {

namespace {

using subq::detail::launch_elementwise;

__global__ void route_tokens_kernel(const float* logits, std::int64_t T, int E, int top_k, std::int32_t* experts,
                                    float* weights) {
  SUBQ_GRID_STRIDE(t, T) route_token(logits + t * E, E, top_k, experts + t * top_k, weights + t * top_k);
}

__global__ void combine_experts_kernel(float* out, const float* y, const std::int64_t* rows, const float* weights,
                                       std::int64_t T, int top_k, std::int64_t H) {
  SUBQ_GRID_STRIDE(i, T * H) {
    const std::int64_t t = i / H;
    out[i] = combined_output(y, rows + t * top_k, weights + t * top_k, top_k, H, i % H);
  }
}

}  // namespace

std::string launch_route_tokens(const float* logits, std::int64_t T, int E, int top_k, std::int32_t* experts,
                                float* weights) {
  return launch_elementwise(route_tokens_kernel, T, logits, T, E, top_k, experts, weights);
}

std::string launch_combine_experts(float* out, const float* y, const std::int64_t* rows, const float* weights,
                                   std::int64_t T, int top_k, std::int64_t H) {
  return launch_elementwise(combine_experts_kernel, T * H, out, y, rows, weights, T, top_k, H);
}

}  // namespace subq::moe::detail
