#pragma once
// Internal: the DeltaNet layers' row pass (core/row_pass.hpp), one row per (batch, step): the
// writing strengths and, gated, the log-decays of every head from their projections.
#include <cmath>
#include <cstdint>

#include "core/complex.hpp"
#include "core/math.hpp"

namespace subq::recurrent::detail {

/// beta[h] = sigmoid(b[h]) * beta_scale; gated (a not null): g[h] = -exp(A_log[h]) softplus(a[h] + dt_bias[h]).
/// a and b are rows of their projections, (rows, heads) as beta and g.
template <class T>
struct DeltaNetGates {
  const T *a, *b, *A_log, *dt_bias;
  T *beta, *g;
  std::int64_t heads;
  T beta_scale;
  SUBQ_HOST_DEVICE void operator()(std::int64_t row) const {
    for (std::int64_t h = 0; h < heads; ++h) {
      beta[row * heads + h] = beta_scale * sigmoid(b[row * heads + h]);
      if (a) g[row * heads + h] = -std::exp(A_log[h]) * softplus(a[row * heads + h] + dt_bias[h]);
    }
  }
};

}  // namespace subq::recurrent::detail
