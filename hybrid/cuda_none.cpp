// Builds without the CUDA backend: no tensor can be on a GPU, so the hybrid layers' CUDA
// launchers are never reached; they fail with the reason should one be.
#include "core/device.hpp"
#include "hybrid/attention_cuda.hpp"
#include "hybrid/moe_cuda.hpp"

namespace subq::hybrid::detail {

std::int64_t attention_key_splits(const AttentionCudaParams&) { return 1; }
std::int64_t attention_workspace_floats(const AttentionCudaParams&) { return 0; }
std::string launch_causal_attention(const AttentionCudaParams&) { return cuda_status(); }
std::string launch_route_tokens(const float*, std::int64_t, int, int, std::int32_t*, float*) { return cuda_status(); }
std::string launch_combine_experts(float*, const float*, const std::int64_t*, const float*, std::int64_t, int, std::int64_t) {
  return cuda_status();
}

}  // namespace subq::hybrid::detail
