#pragma once
// Gated linear attention (Yang et al. 2024), as fla's gla ops define it. Per batch b and head h,
// with a log-gate per key channel gk <= 0 and a (d_k x d_v) state:
//   S[t] = diag(exp(gk[t])) S[t-1] + k[t]^T v[t],   o[t] = scale q[t] S[t]
// This is RWKV-6's WKV (wkv6.hpp) with its receptance r = scale q exp(gk), which reads the state
// before the step's decay, a zero bonus u, and the step's own term scale (q . k) v added after:
//   o[t] = (scale q[t] exp(gk[t])) S[t-1] + scale (q[t] . k[t]) v[t]
// so GLA runs on WKV-6's stepped and chunked forms (chunk states through the scan core).
#include <cstdint>

#include "../core/tensor.hpp"

namespace subq::recurrent {

struct GlaOptions {
  double scale = 1;               // fla passes d_k^-1/2
  Tensor initial_state;           // (batch, heads, d_k, d_v), or undefined for zeros
  std::int64_t chunk_length = 0;  // WKV-6's: 0 lets it choose
};

struct GlaResult {
  Tensor o;            // (batch, length, heads, d_v)
  Tensor final_state;  // (batch, heads, d_k, d_v)
};

/// q, k, gk: (batch, length, heads, d_k), gk the log-gate (<= 0); v: (batch, length, heads,
/// d_v); every operand of q's dtype and on its device: float32 or float64 on the CPU, float32 on CUDA
/// (there d_k <= 256 and d_v <= 1024, WKV-6's kernel's limits).
GlaResult gla(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& gk, const GlaOptions& options = {});

/// The same, one step at a time in float64 on the CPU (rounded to q's dtype, returned on the CPU):
/// the specification.
GlaResult gla_recurrent(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& gk,
                        const GlaOptions& options = {});

}  // namespace subq::recurrent
