#pragma once
// RWKV-7's WKV, the generalised delta rule, as fla's rwkv7 kernels define it (scale 1). Per
// batch b and head h, a (d_v x d_k) state:
//   S[t] = S[t-1] diag(exp(w[t])) + (S[t-1] a[t]) b[t]^T + v[t] k[t]^T,   o[t] = S[t] r[t]
// (RWKV-7 passes a = -kk and b = kk * a_gate: a decay plus a partial replacement of what the state
// holds along the normalised key kk.) The recurrent form, threads over batch x heads.
#include "../core/tensor.hpp"

namespace subq::recurrent {

struct Wkv7Result {
  Tensor o;            // (batch, length, heads, d_v)
  Tensor final_state;  // (batch, heads, d_v, d_k)
};

/// r, w, k, a, b: (batch, length, heads, d_k), w the log-decay; v: (batch, length, heads, d_v);
/// initial_state: (batch, heads, d_v, d_k) or undefined for zeros. float32 or float64, CPU.
Wkv7Result wkv7(const Tensor& r, const Tensor& w, const Tensor& k, const Tensor& v, const Tensor& a, const Tensor& b,
                const Tensor& initial_state = {});

}  // namespace subq::recurrent
