#pragma once
// Internal: the per-token pieces of the mixture of experts, one definition for the CPU loops of
// moe/moe.cpp and the CUDA kernels of moe/moe.cu.
#include <cmath>
#include <cstdint>

#include "core/math.hpp"

namespace subq::moe::detail {

/// An expert's rank key from its router logit: p = exp(logit - max), a NaN ranked below every p.
SUBQ_HOST_DEVICE double routing_key(float logit, double max) {
  const double p = exp(double(logit) - max);
  return p == p ? p : -1.0;
}

/// One token's routing from its E router logits: its top_k experts by p = softmax(logits), ties
/// to the lower index, written in expert order (the order their outputs are summed) to experts
/// (top_k), with their p as they are (not renormalised) to weights (top_k).
SUBQ_HOST_DEVICE void route_token(const float* logits, int E, int top_k, std::int32_t* experts, float* weights) {
  double max = -INFINITY, total = 0;
  for (int e = 0; e < E; ++e)
    if (logits[e] > max) max = logits[e];
  for (int e = 0; e < E; ++e) total += exp(double(logits[e]) - max);
  // Each pass takes the next expert in the order (p descending, index ascending).
  double previous_key = INFINITY;
  int previous = -1;
  for (int j = 0; j < top_k; ++j) {
    int best = -1;
    double best_key = -INFINITY;
    for (int e = 0; e < E; ++e) {
      const double key = routing_key(logits[e], max);
      const bool after_previous = key < previous_key || (key == previous_key && e > previous);
      if (after_previous && key > best_key) best = e, best_key = key;
    }
    int at = j;  // insertion into the experts chosen so far, kept in expert order
    for (; at > 0 && experts[at - 1] > best; --at) experts[at] = experts[at - 1], weights[at] = weights[at - 1];
    experts[at] = best, weights[at] = float(best_key / total);
    previous_key = best_key, previous = best;
  }
}

/// Output feature c of one token: sum over its top_k choices j (in expert order) of
/// weights[j] * y[rows[j], c]; y (rows, H) the experts' outputs, rows (top_k) where its choices'
/// outputs lie.
SUBQ_HOST_DEVICE float combined_output(const float* y, const std::int64_t* rows, const float* weights, int top_k,
                                              std::int64_t H, std::int64_t c) {
  float sum = 0.0f;
  for (int j = 0; j < top_k; ++j) sum += weights[j] * y[rows[j] * H + c];
  return sum;
}

}  // namespace subq::moe::detail
