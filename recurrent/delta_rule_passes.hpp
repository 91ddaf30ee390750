#pragma once
// Internal: the delta rules' row pass (core/row_pass.hpp), one row per (batch, step, head): the
// operands of RWKV-7's WKV that make its generalised delta rule DeltaNet's (or Gated DeltaNet's).
#include <cmath>
#include <cstdint>

#include "core/complex.hpp"

namespace subq::recurrent::detail {

/// 1 / sqrt(sum x^2 + epsilon) over n values (fla's l2norm), or 1 when not normalising.
template <class T>
SUBQ_HOST_DEVICE T l2_norm_factor(const T *x, std::int64_t n, bool normalize, T epsilon) {
  if (!normalize) return T(1);
  T sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += x[i] * x[i];
  return T(1) / std::sqrt(sum + epsilon);
}

/// With q, k L2-normalised when asked: r = scale q, w = g (0 ungated) on every key channel,
/// key = a = k, b = -beta exp(g) k, value = beta v.
template <class T>
struct DeltaRuleOperands {
  const T *q, *k, *v, *beta, *g;  // g may be null (DeltaNet)
  T *r, *w, *key, *a, *b, *value;
  std::int64_t K, V;
  T scale, norm_epsilon;
  bool l2_normalize;
  SUBQ_HOST_DEVICE void operator()(std::int64_t row) const {
    const T *qt = q + row * K, *kt = k + row * K;
    const T q_factor = scale * l2_norm_factor(qt, K, l2_normalize, norm_epsilon);
    const T k_factor = l2_norm_factor(kt, K, l2_normalize, norm_epsilon), strength = beta[row];
    const T log_decay = g ? g[row] : T(0), erase = -strength * std::exp(log_decay);
    for (std::int64_t i = 0; i < K; ++i) {
      const T unit_k = kt[i] * k_factor;
      r[row * K + i] = qt[i] * q_factor;
      w[row * K + i] = log_decay;
      key[row * K + i] = a[row * K + i] = unit_k;
      b[row * K + i] = erase * unit_k;
    }
    for (std::int64_t j = 0; j < V; ++j) value[row * V + j] = strength * v[row * V + j];
  }
};

}  // namespace subq::recurrent::detail
