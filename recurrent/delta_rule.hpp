#pragma once
// The delta rule of DeltaNet (Schlag et al. 2021, Yang et al. 2024) and Gated DeltaNet (Yang et
// al. 2025, Qwen3-Next's mixer), as fla's delta_rule and gated_delta_rule ops define them. Per
// batch b and head h, with a (d_k x d_v) state, a writing strength beta in (0, 1) and, gated, a
// log-decay g <= 0 per step:
//   S' = exp(g[t]) S[t-1],   u[t] = beta[t] (v[t] - k[t] S'),   S[t] = S' + k[t]^T u[t],
//   o[t] = scale q[t] S[t]
// (DeltaNet: g = 0), with q and k optionally L2-normalised first, x / sqrt(sum x^2 + 1e-6).
// Transposed to RWKV-7's (d_v x d_k) state this is its generalised delta rule (wkv7.hpp) with
//   r = scale q, w = g (every key channel), k, v' = beta v, a = k, b = -beta exp(g) k,
// so the delta rules run on WKV-7's stepped and chunked (fla's chunk_dplr) forms.
#include <cstdint>

#include "../core/tensor.hpp"

namespace subq::recurrent {

struct DeltaRuleOptions {
  double scale = 1;               // fla passes d_k^-1/2
  bool l2_normalize = false;      // fla's use_qk_l2norm_in_kernel
  Tensor g;                       // (batch, length, heads) log-decay: Gated DeltaNet; undefined: DeltaNet
  Tensor initial_state;           // (batch, heads, d_k, d_v), or undefined for zeros
  std::int64_t chunk_length = 0;  // WKV-7's: 0 steps (the CPU default), > 0 chunks of that length
};

struct DeltaRuleResult {
  Tensor o;            // (batch, length, heads, d_v)
  Tensor final_state;  // (batch, heads, d_k, d_v)
};

/// q, k: (batch, length, heads, d_k); v: (batch, length, heads, d_v); beta: (batch, length,
/// heads); every operand of q's dtype and on its device: float32 or float64 on the CPU, float32 on
/// CUDA (where WKV-7 steps, with d_k <= 256 and d_v <= 1024, its kernel's limits).
DeltaRuleResult delta_rule(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& beta,
                           const DeltaRuleOptions& options = {});

/// The same, one step at a time in float64 on the CPU (rounded to q's dtype, returned on the CPU):
/// the specification.
DeltaRuleResult delta_rule_recurrent(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& beta,
                                     const DeltaRuleOptions& options = {});

}  // namespace subq::recurrent
