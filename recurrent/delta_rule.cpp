#include "recurrent/delta_rule.hpp"

#include <cmath>
#include <vector>

#include "core/dispatch.hpp"
#include "recurrent/qkv.hpp"
#include "recurrent/wkv7.hpp"

namespace subq::recurrent {

namespace {

constexpr const char* kOp = "delta_rule";
constexpr double kNormEpsilon = 1e-6;  // fla's l2norm

detail::QkvSizes validate(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& beta,
                          const DeltaRuleOptions& options) {
  const detail::QkvSizes s =
      detail::check_qkv(kOp, q, k, v, {{"beta", &beta}, {"g", &options.g}, {"initial_state", &options.initial_state}});
  check_shape(kOp, "beta", beta, {s.B, s.L, s.H});
  detail::check_optional_shape(kOp, "g", options.g, {s.B, s.L, s.H});
  detail::check_optional_shape(kOp, "initial_state", options.initial_state, {s.B, s.H, s.dk, s.dv});
  SUBQ_CHECK(options.chunk_length >= 0, "{}: chunk_length must be >= 0, found {}", kOp, options.chunk_length);
  return s;
}

/// 1 / sqrt(sum x^2 + eps) when normalising, else 1.
template <class T>
T norm_factor(const T* x, std::int64_t n, bool normalize) {
  if (!normalize) return T(1);
  T sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += x[i] * x[i];
  return T(1) / std::sqrt(sum + T(kNormEpsilon));
}

/// (batch, heads, a, b) -> (batch, heads, b, a), contiguous.
Tensor swap_state_axes(const Tensor& state) { return state.transpose(2, 3).contiguous(); }

template <class T>
DeltaRuleResult through_wkv7(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const Tensor& beta_in,
                             const DeltaRuleOptions& options, const detail::QkvSizes& s) {
  const std::int64_t K = s.dk, V = s.dv;
  const Tensor q = detail::dense<T>(q_in), k = detail::dense<T>(k_in), v = detail::dense<T>(v_in),
               beta = detail::dense<T>(beta_in);
  const Tensor g = options.g.defined() ? detail::dense<T>(options.g) : Tensor{};
  Tensor r = Tensor::empty(q.shape(), dtype_of<T>), w = Tensor::empty(q.shape(), dtype_of<T>),
         key = Tensor::empty(q.shape(), dtype_of<T>), a = Tensor::empty(q.shape(), dtype_of<T>),
         b = Tensor::empty(q.shape(), dtype_of<T>), value = Tensor::empty(v.shape(), dtype_of<T>);
  detail::for_rows(s.B * s.L * s.H, [&](std::int64_t row) {
    const T *qt = q.data<T>() + row * K, *kt = k.data<T>() + row * K, *vt = v.data<T>() + row * V;
    const T q_factor = T(options.scale) * norm_factor(qt, K, options.l2_normalize);
    const T k_factor = norm_factor(kt, K, options.l2_normalize), bt = beta.data<T>()[row];
    const T log_decay = g.defined() ? g.data<T>()[row] : T(0), erase = -bt * std::exp(log_decay);
    for (std::int64_t i = 0; i < K; ++i) {
      const T unit_k = kt[i] * k_factor;
      r.data<T>()[row * K + i] = qt[i] * q_factor;
      w.data<T>()[row * K + i] = log_decay;
      key.data<T>()[row * K + i] = a.data<T>()[row * K + i] = unit_k;
      b.data<T>()[row * K + i] = erase * unit_k;
    }
    for (std::int64_t j = 0; j < V; ++j) value.data<T>()[row * V + j] = bt * vt[j];
  });
  Wkv7Options wkv;
  if (options.initial_state.defined()) wkv.initial_state = swap_state_axes(detail::dense<T>(options.initial_state));
  wkv.chunk_length = options.chunk_length;
  const Wkv7Result result = wkv7(r, w, key, value, a, b, wkv);
  return {result.o, swap_state_axes(result.final_state)};
}

template <class T>
DeltaRuleResult recurrent_typed(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const Tensor& beta_in,
                                const DeltaRuleOptions& options, const detail::QkvSizes& s) {
  const std::int64_t K = s.dk, V = s.dv, L = s.L, H = s.H;
  const Tensor q = detail::dense<double>(q_in), k = detail::dense<double>(k_in), v = detail::dense<double>(v_in),
               beta = detail::dense<double>(beta_in);
  const Tensor g = options.g.defined() ? detail::dense<double>(options.g) : Tensor{};
  Tensor S = options.initial_state.defined() ? detail::dense<double>(options.initial_state).clone()
                                             : Tensor::zeros({s.B, H, K, V}, DType::F64);
  Tensor o = Tensor::empty(v.shape(), DType::F64);
  std::vector<double> qn(static_cast<std::size_t>(K)), kn(qn.size()), u(static_cast<std::size_t>(V));
  for (std::int64_t b = 0; b < s.B; ++b)
    for (std::int64_t h = 0; h < H; ++h) {
      double* state = S.data<double>() + (b * H + h) * K * V;
      for (std::int64_t t = 0; t < L; ++t) {
        const std::int64_t row = (b * L + t) * H + h;
        const double *qt = q.data<double>() + row * K, *kt = k.data<double>() + row * K,
                     *vt = v.data<double>() + row * V;
        const double qf = norm_factor(qt, K, options.l2_normalize), kf = norm_factor(kt, K, options.l2_normalize);
        for (std::int64_t i = 0; i < K; ++i) qn[i] = qt[i] * qf, kn[i] = kt[i] * kf;
        const double decay = g.defined() ? std::exp(g.data<double>()[row]) : 1.0;
        for (std::int64_t i = 0; i < K * V; ++i) state[i] *= decay;
        for (std::int64_t j = 0; j < V; ++j) {
          double recalled = 0;
          for (std::int64_t i = 0; i < K; ++i) recalled += kn[i] * state[i * V + j];
          u[j] = beta.data<double>()[row] * (vt[j] - recalled);
        }
        for (std::int64_t i = 0; i < K; ++i)
          for (std::int64_t j = 0; j < V; ++j) state[i * V + j] += kn[i] * u[j];
        double* ot = o.data<double>() + row * V;
        for (std::int64_t j = 0; j < V; ++j) {
          double sum = 0;
          for (std::int64_t i = 0; i < K; ++i) sum += qn[i] * state[i * V + j];
          ot[j] = options.scale * sum;
        }
      }
    }
  return {o.to(dtype_of<T>), S.to(dtype_of<T>)};
}

}  // namespace

DeltaRuleResult delta_rule(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& beta,
                           const DeltaRuleOptions& options) {
  const detail::QkvSizes s = validate(q, k, v, beta, options);
  return dispatch(FloatTypes{}, kOp, q.dtype(),
                  [&](auto zero) { return through_wkv7<decltype(zero)>(q, k, v, beta, options, s); });
}

DeltaRuleResult delta_rule_recurrent(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& beta,
                                     const DeltaRuleOptions& options) {
  const detail::QkvSizes s = validate(q, k, v, beta, options);
  return dispatch(FloatTypes{}, kOp, q.dtype(),
                  [&](auto zero) { return recurrent_typed<decltype(zero)>(q, k, v, beta, options, s); });
}

}  // namespace subq::recurrent
