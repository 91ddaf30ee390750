#pragma once
// Internal: RG-LRU's row passes (core/row_pass.hpp), one row per (batch, step): the gates' sigmoid
// after their block-diagonal product, and the recurrence's coefficients.
#include <cmath>
#include <cstdint>

#include "core/complex.hpp"
#include "core/math.hpp"

namespace subq::recurrent::detail {

/// gate = sigmoid(gate + bias) over a row of D.
template <class T>
struct SigmoidWithBias {
  T* gate;
  const T* bias;
  std::int64_t D;
  SUBQ_HOST_DEVICE void operator()(std::int64_t row) const {
    for (std::int64_t i = 0; i < D; ++i) gate[row * D + i] = sigmoid(gate[row * D + i] + bias[i]);
  }
};

/// rate[i] = -exponent softplus(a_param[i]), one channel per call: log a = gate_a rate.
template <class T>
struct RgLruDecayRates {
  const T* a_param;
  T* rate;
  T exponent;
  SUBQ_HOST_DEVICE void operator()(std::int64_t i) const { rate[i] = -exponent * softplus(a_param[i]); }
};

/// In place per (batch, step) row: a = gate_a -> exp(log a) with log a = gate_a rate (0 where the
/// segment restarts), b = gate_x -> x gate_x sqrt(1 - a^2) (x gate_x there).
template <class T>
struct RgLruCoefficients {
  T *a, *b;
  const T *x, *rate;
  const std::int64_t* segment_pos;  // null: no resets
  std::int64_t D;
  SUBQ_HOST_DEVICE void operator()(std::int64_t row) const {
    const bool reset = segment_pos && segment_pos[row] == 0;
    for (std::int64_t i = 0; i < D; ++i) {
      const T log_a = a[row * D + i] * rate[i];
      const T scale = reset ? T(1) : std::sqrt(T(1) - std::exp(T(2) * log_a));
      a[row * D + i] = reset ? T(0) : std::exp(log_a);
      b[row * D + i] = x[row * D + i] * b[row * D + i] * scale;
    }
  }
};

}  // namespace subq::recurrent::detail
