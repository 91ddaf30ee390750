#pragma once
// RetNet's multi-scale retention, as fla's chunk_retention defines it: per head h a fixed decay
// gamma_h = 1 - 2^(-5 - h) and a (d_k x d_v) state
//   S[t] = gamma_h S[t-1] + k[t]^T v[t],   o[t] = scale * q[t] S[t],   scale = d_k^-1/2
// computed chunk by chunk: this is SSD with a constant log-decay (ssm/ssd.hpp), whose
// inter-chunk state passing runs through the scan core.
#include <cstdint>

#include "../core/tensor.hpp"

namespace subq::recurrent {

struct RetentionOptions {
  Tensor initial_state;           // (batch, heads, d_v, d_k), or undefined for zeros
  std::int64_t chunk_length = 0;  // 0: SSD's default
};

struct RetentionResult {
  Tensor o;            // (batch, length, heads, d_v)
  Tensor final_state;  // (batch, heads, d_v, d_k)
};

/// q, k: (batch, length, heads, d_k); v: (batch, length, heads, d_v); float32 or float64 on the
/// CPU, float32 or bfloat16 on CUDA (computed and returned in float32, SSD's CUDA dtype).
RetentionResult retention(const Tensor& q, const Tensor& k, const Tensor& v, const RetentionOptions& options = {});

/// log gamma_h for heads 0 .. heads-1.
double retention_log_decay(std::int64_t head);

}  // namespace subq::recurrent
