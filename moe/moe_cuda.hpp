#pragma once
// Internal: the CUDA launchers of the mixture of experts' per-token steps (moe/moe.cu), float32,
// contiguous; moe/moe.cpp groups the tokens and runs the experts. Each returns an error
// message, empty on success.
#include <cstdint>
#include <string>

namespace subq::moe::detail {

/// route_token for each of T tokens: logits (T, E) -> experts (T, top_k), weights (T, top_k).
std::string launch_route_tokens(const float* logits, std::int64_t T, int E, int top_k, std::int32_t* experts,
                                float* weights);
/// out (T, H) = combined_output per token and feature; y (T top_k, H), rows and weights (T, top_k).
std::string launch_combine_experts(float* out, const float* y, const std::int64_t* rows, const float* weights,
                                   std::int64_t T, int top_k, std::int64_t H);

}  // namespace subq::moe::detail
