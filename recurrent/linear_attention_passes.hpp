#pragma once
// Internal: linear attention's row passes (core/row_pass.hpp), one row per (batch, step, head):
// the operands SSD takes, and the outputs from SSD's. BASED's Taylor features are here too.
#include <cmath>
#include <cstdint>

#include "core/complex.hpp"

namespace subq::recurrent::detail {

template <class T>
SUBQ_HOST_DEVICE T elu_plus_one(T x) {
  return x > T(0) ? x + T(1) : std::exp(x);
}

/// features_k = phi(k), features_q = scale phi(q) (d_k each), X = [v, 1] (P = d_v + 1) or v (P = d_v).
template <class T>
struct LinearAttentionOperands {
  const T *q, *k, *v;
  T *features_q, *features_k, *X;
  std::int64_t K, V, P;
  bool elu;
  T scale;
  SUBQ_HOST_DEVICE void operator()(std::int64_t row) const {
    for (std::int64_t i = 0; i < K; ++i) {
      const T kf = k[row * K + i], qf = q[row * K + i];
      features_k[row * K + i] = elu ? elu_plus_one(kf) : kf;
      features_q[row * K + i] = scale * (elu ? elu_plus_one(qf) : qf);
    }
    for (std::int64_t j = 0; j < V; ++j) X[row * P + j] = v[row * V + j];
    if (P > V) X[row * P + V] = T(1);
  }
};

/// o = Y[:d_v] / (Y[d_v] + epsilon) where normalised (P = d_v + 1), else Y itself.
template <class T>
struct NormalizedOutputs {
  const T* Y;
  T* o;
  std::int64_t V, P;
  T epsilon;
  SUBQ_HOST_DEVICE void operator()(std::int64_t row) const {
    const T* y = Y + row * P;
    const T denominator = P > V ? y[V] + epsilon : T(1);
    for (std::int64_t j = 0; j < V; ++j) o[row * V + j] = P > V ? y[j] / denominator : y[j];
  }
};

/// BASED's Taylor features of x (d_k) per row: 1, sqrt(scale) x_i, then for i <= j
/// scale / sqrt(2) x_i^2 on the diagonal and scale x_i x_j off it (F = 1 + d_k + d_k (d_k + 1) / 2).
template <class T>
struct TaylorFeatures {
  const T* x;
  T* features;
  std::int64_t K;
  T linear, square, cross;
  SUBQ_HOST_DEVICE void operator()(std::int64_t row) const {
    const T* xr = x + row * K;
    T* f = features + row * (1 + K + K * (K + 1) / 2);
    *f++ = T(1);
    for (std::int64_t i = 0; i < K; ++i) *f++ = linear * xr[i];
    for (std::int64_t i = 0; i < K; ++i) {
      *f++ = square * xr[i] * xr[i];
      for (std::int64_t j = i + 1; j < K; ++j) *f++ = cross * xr[i] * xr[j];
    }
  }
};

}  // namespace subq::recurrent::detail
