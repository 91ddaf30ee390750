#pragma once
// Causal linear attention, as fla's linear_attn ops define it. Per batch b and head h, with a
// feature map phi applied to q and k element-wise and a (d_k x d_v) state:
//   S[t] = S[t-1] + phi(k[t])^T v[t],   o[t] = scale phi(q[t]) S[t]
// and, normalised, the running key sum z[t] = z[t-1] + phi(k[t]) (d_k) as the denominator:
//   o[t] = scale phi(q[t]) S[t] / (scale phi(q[t]) . z[t] + epsilon)
// Computed as SSD (ssm/ssd.hpp) with a zero log-decay: v is SSD's X (with a column of ones
// appended when normalised, so that the same chunk products carry z beside S), phi(k) its B and
// scale phi(q) its C; SSD's chunks pass their states through the scan core. BASED (based.hpp) is
// this with its Taylor feature map.
#include <cstdint>

#include "../core/tensor.hpp"

namespace subq::recurrent {

enum class FeatureMap {
  Identity,
  Elu1,  // elu(x) + 1: x + 1 for x > 0, else exp(x) (fla's feature_map="elu")
};

struct LinearAttentionOptions {
  FeatureMap feature_map = FeatureMap::Identity;
  double scale = 1;               // fla's layers pass d_k^-1/2
  bool normalize = false;         // divide by scale phi(q) . z + epsilon
  double epsilon = 1e-10;         // fla's
  Tensor initial_state;           // (batch, heads, d_k, d_v), or undefined for zeros
  Tensor initial_normalizer;      // z before step 0, (batch, heads, d_k), or undefined for zeros (normalize only)
  std::int64_t chunk_length = 0;  // SSD's; 0 lets it choose
};

struct LinearAttentionResult {
  Tensor o;                 // (batch, length, heads, d_v), q's dtype
  Tensor final_state;       // (batch, heads, d_k, d_v)
  Tensor final_normalizer;  // (batch, heads, d_k); undefined unless normalize
};

/// q, k: (batch, length, heads, d_k); v: (batch, length, heads, d_v); every operand of q's dtype
/// and on its device: float32 or float64 on the CPU, float32 on CUDA.
LinearAttentionResult linear_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                       const LinearAttentionOptions& options = {});

/// The same, one step at a time in float64 on the CPU (rounded to q's dtype, returned on the CPU):
/// the specification.
LinearAttentionResult linear_attention_recurrent(const Tensor& q, const Tensor& k, const Tensor& v,
                                                 const LinearAttentionOptions& options = {});

}  // namespace subq::recurrent
