#pragma once
// Internal: linear attention (and mLSTM) as SSD sees it. A (d_k x d_v) state S with, optionally,
// a running key sum z (d_k) is SSD's (P x N) state with P = d_v (+ 1 for z) and N = d_k: S
// transposed in the first d_v rows, z in the last. These row passes (core/row_pass.hpp; one row
// per batch x head) convert between the two layouts, on the CPU and on CUDA.
#include <cstdint>

#include "core/complex.hpp"

namespace subq::recurrent::detail {

/// SSD's initial state (batch x heads, P, d_k) from S0 (batch x heads, d_k, d_v) and z0
/// (batch x heads, d_k), either null for zeros (z0 ignored when P = d_v).
template <class T>
struct PackSsdState {
  const T *S0, *z0;
  T* state;
  std::int64_t K, V, P;
  SUBQ_HOST_DEVICE void operator()(std::int64_t bh) const {
    T* out = state + bh * P * K;
    for (std::int64_t j = 0; j < V; ++j)
      for (std::int64_t i = 0; i < K; ++i) out[j * K + i] = S0 ? S0[(bh * K + i) * V + j] : T(0);
    if (P > V)
      for (std::int64_t i = 0; i < K; ++i) out[V * K + i] = z0 ? z0[bh * K + i] : T(0);
  }
};

/// S (batch x heads, d_k, d_v) and, where z is not null, z (batch x heads, d_k) from SSD's state
/// (batch x heads, P, d_k).
template <class T>
struct UnpackSsdState {
  const T* state;
  T *S, *z;
  std::int64_t K, V, P;
  SUBQ_HOST_DEVICE void operator()(std::int64_t bh) const {
    const T* in = state + bh * P * K;
    for (std::int64_t i = 0; i < K; ++i)
      for (std::int64_t j = 0; j < V; ++j) S[(bh * K + i) * V + j] = in[j * K + i];
    if (z)
      for (std::int64_t i = 0; i < K; ++i) z[bh * K + i] = in[V * K + i];
  }
};

}  // namespace subq::recurrent::detail
