#pragma once
// Internal: GLA's row passes (core/row_pass.hpp) around RWKV-6's WKV, one row per (batch, step,
// head): the receptance WKV-6 reads the state with, and the step's own term added to its output;
// and the GLA layer's log-gates, one row per (batch, step).
#include <cmath>
#include <cstdint>

#include "core/complex.hpp"
#include "core/math.hpp"

namespace subq::recurrent::detail {

/// r = scale q exp(gk) (d_k).
template <class T>
struct GlaReceptance {
  const T *q, *gk;
  T* r;
  std::int64_t K;
  T scale;
  SUBQ_HOST_DEVICE void operator()(std::int64_t row) const {
    for (std::int64_t i = 0; i < K; ++i) r[row * K + i] = scale * q[row * K + i] * std::exp(gk[row * K + i]);
  }
};

/// o += scale (q . k) v (d_v).
template <class T>
struct GlaOwnStep {
  const T *q, *k, *v;
  T* o;
  std::int64_t K, V;
  T scale;
  SUBQ_HOST_DEVICE void operator()(std::int64_t row) const {
    T dot = 0;
    for (std::int64_t i = 0; i < K; ++i) dot += q[row * K + i] * k[row * K + i];
    dot *= scale;
    for (std::int64_t j = 0; j < V; ++j) o[row * V + j] += dot * v[row * V + j];
  }
};

/// The layer's log-gates, in place over a row of n: gk = log sigmoid(gk) / normalizer.
template <class T>
struct GlaLogGates {
  T* gk;
  std::int64_t n;
  T normalizer;
  SUBQ_HOST_DEVICE void operator()(std::int64_t row) const {
    for (std::int64_t i = 0; i < n; ++i) gk[row * n + i] = log_sigmoid(gk[row * n + i]) / normalizer;
  }
};

}  // namespace subq::recurrent::detail
