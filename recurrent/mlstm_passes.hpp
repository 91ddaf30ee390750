#pragma once
// Internal: the mLSTM cell's passes (core/row_pass.hpp) around SSD: the stabiliser, in order along
// each (batch, head)'s steps; SSD's operands and the cell's outputs, per (batch, step, head).
#include <cmath>
#include <cstdint>

#include "core/complex.hpp"
#include "core/math.hpp"

namespace subq::recurrent::detail {

/// log f from the forget gate's pre-activation: its log sigmoid, or, for the exponential gate, the
/// pre-activation itself.
template <class T>
SUBQ_HOST_DEVICE T log_forget(bool exponential, T pre) {
  return exponential ? pre : log_sigmoid(pre);
}

/// Per (batch, head) row: m[t] = max(log f[t] + m[t-1], i[t]) from m_last (m before step 0, then
/// the last m), and SSD's log-decay log f[t] + m[t-1] - m[t] <= 0.
template <class T>
struct MlstmStabiliser {
  const T *input_gate, *forget_gate;
  T *m, *log_decay, *m_last;
  std::int64_t L, H;
  bool exponential;
  SUBQ_HOST_DEVICE void operator()(std::int64_t bh) const {
    const std::int64_t b = bh / H, h = bh % H;
    T previous = m_last[bh];
    for (std::int64_t t = 0; t < L; ++t) {
      const std::int64_t row = (b * L + t) * H + h;
      const T log_f = log_forget(exponential, forget_gate[row]);
      const T current = log_f + previous > input_gate[row] ? log_f + previous : input_gate[row];
      m[row] = current;
      log_decay[row] = log_f + previous - current;
      previous = current;
    }
    m_last[bh] = previous;
  }
};

/// X = exp(i - m) [v, 1] (d_v + 1) and the keys k / sqrt(d_k).
template <class T>
struct MlstmInputs {
  const T *k, *v, *input_gate, *m;
  T *X, *keys;
  std::int64_t K, V;
  T key_scale;
  SUBQ_HOST_DEVICE void operator()(std::int64_t row) const {
    const T input_scale = std::exp(input_gate[row] - m[row]);
    for (std::int64_t j = 0; j < V; ++j) X[row * (V + 1) + j] = input_scale * v[row * V + j];
    X[row * (V + 1) + V] = input_scale;
    for (std::int64_t i = 0; i < K; ++i) keys[row * K + i] = key_scale * k[row * K + i];
  }
};

/// h = Y[:d_v] / (max(|Y[d_v]|, exp(-m)) + epsilon): Y[d_v] is q . n.
template <class T>
struct MlstmOutputs {
  const T *Y, *m;
  T *h;
  std::int64_t V;
  T epsilon;
  SUBQ_HOST_DEVICE void operator()(std::int64_t row) const {
    const T *y = Y + row * (V + 1);
    const T qn = y[V] < T(0) ? -y[V] : y[V], floor = std::exp(-m[row]);
    const T denominator = (qn > floor ? qn : floor) + epsilon;
    for (std::int64_t j = 0; j < V; ++j) h[row * V + j] = y[j] / denominator;
  }
};

}  // namespace subq::recurrent::detail
