#pragma once
// Internal: RG-LRU's passes (core/row_pass.hpp): the gates' block-diagonal product on CUDA (the
// CPU's is Eigen's GEMM), the gates' sigmoid, and the recurrence's coefficients per (batch, step).
#include <cmath>
#include <cstdint>

#include "core/complex.hpp"
#include "core/math.hpp"

namespace subq::recurrent::detail {

/// One element (row, channel) per call: gate[row, h Dh + j] = sum_c x[row, h Dh + c] w[h, c, j],
/// rows of D = heads x Dh channels.
template <class T>
struct BlockDiagonalProduct {
  const T *x, *w;
  T* gate;
  std::int64_t D, Dh;
  SUBQ_HOST_DEVICE void operator()(std::int64_t element) const {
    const std::int64_t row = element / D, channel = element % D, head = channel / Dh, j = channel % Dh;
    const T* xr = x + row * D + head * Dh;
    const T* wc = w + head * Dh * Dh + j;
    T sum = 0;
    for (std::int64_t c = 0; c < Dh; ++c) sum += xr[c] * wc[c * Dh];
    gate[element] = sum;
  }
};

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

/// In place per (batch, step) row: a = gate_a -> exp(log a) with log a = -c gate_a softplus(a_param)
/// (0 where the segment restarts), b = gate_x -> x gate_x sqrt(1 - a^2) (x gate_x there).
template <class T>
struct RgLruCoefficients {
  T *a, *b;
  const T *x, *a_param;
  const std::int64_t* segment_pos;  // null: no resets
  std::int64_t D;
  T exponent;
  SUBQ_HOST_DEVICE void operator()(std::int64_t row) const {
    const bool reset = segment_pos && segment_pos[row] == 0;
    for (std::int64_t i = 0; i < D; ++i) {
      const T log_a = -exponent * a[row * D + i] * softplus(a_param[i]);
      const T scale = reset ? T(1) : std::sqrt(T(1) - std::exp(T(2) * log_a));
      a[row * D + i] = reset ? T(0) : std::exp(log_a);
      b[row * D + i] = x[row * D + i] * b[row * D + i] * scale;
    }
  }
};

}  // namespace subq::recurrent::detail
