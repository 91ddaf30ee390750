#pragma once
// Internal: linear attention (and mLSTM) as SSD sees it. A (d_k x d_v) state S with, optionally,
// a running key sum z (d_k) is SSD's (P x N) state with P = d_v (+ 1 for z) and N = d_k: S
// transposed in the first d_v rows, z in the last. These convert between the two layouts.
#include "recurrent/qkv.hpp"

namespace subq::recurrent::detail {

/// SSD's initial state (batch, heads, d_v + has_z, d_k) from S0 (batch, heads, d_k, d_v) and z0
/// (batch, heads, d_k), either undefined for zeros; undefined when both are.
template <class T>
Tensor to_ssd_state(const Tensor& S0, const Tensor& z0, bool has_z, const QkvSizes& s) {
  if (!S0.defined() && !z0.defined()) return {};
  const std::int64_t P = s.dv + (has_z ? 1 : 0), K = s.dk, V = s.dv;
  Tensor state = Tensor::zeros({s.B, s.H, P, K}, dtype_of<T>);
  T* out = state.data<T>();
  if (S0.defined()) {
    const Tensor S = dense<T>(S0);
    for (std::int64_t bh = 0; bh < s.B * s.H; ++bh)
      for (std::int64_t i = 0; i < K; ++i)
        for (std::int64_t j = 0; j < V; ++j) out[(bh * P + j) * K + i] = S.data<T>()[(bh * K + i) * V + j];
  }
  if (z0.defined() && has_z) {
    const Tensor z = dense<T>(z0);
    for (std::int64_t bh = 0; bh < s.B * s.H; ++bh)
      for (std::int64_t i = 0; i < K; ++i) out[(bh * P + V) * K + i] = z.data<T>()[bh * K + i];
  }
  return state;
}

/// S (batch, heads, d_k, d_v) from SSD's final state (batch, heads, P, d_k).
template <class T>
Tensor state_from_ssd(const Tensor& ssd_state, const QkvSizes& s) {
  const std::int64_t P = ssd_state.size(2), K = s.dk, V = s.dv;
  Tensor S = Tensor::empty({s.B, s.H, K, V}, dtype_of<T>);
  const T* in = ssd_state.contiguous().data<T>();
  for (std::int64_t bh = 0; bh < s.B * s.H; ++bh)
    for (std::int64_t i = 0; i < K; ++i)
      for (std::int64_t j = 0; j < V; ++j) S.data<T>()[(bh * K + i) * V + j] = in[(bh * P + j) * K + i];
  return S;
}

/// z (batch, heads, d_k): the last row of SSD's final state (batch, heads, d_v + 1, d_k).
inline Tensor normalizer_from_ssd(const Tensor& ssd_state) {
  return ssd_state.select(2, ssd_state.size(2) - 1).contiguous();
}

}  // namespace subq::recurrent::detail
