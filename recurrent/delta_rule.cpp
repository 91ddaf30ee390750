#include "recurrent/delta_rule.hpp"

#include <cmath>
#include <vector>

#include "core/dispatch.hpp"
#include "core/row_pass.hpp"
#include "recurrent/delta_rule_passes.hpp"
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

/// (batch, heads, a, b) -> (batch, heads, b, a), contiguous.
Tensor swap_state_axes(const Tensor& state) { return state.transpose(2, 3).contiguous(); }

template <class T>
DeltaRuleResult through_wkv7(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const Tensor& beta_in,
                             const DeltaRuleOptions& options, const detail::QkvSizes& s) {
  const Device device = q_in.device();
  const std::int64_t K = s.dk, V = s.dv;
  const Tensor q = detail::dense<T>(q_in), k = detail::dense<T>(k_in), v = detail::dense<T>(v_in),
               beta = detail::dense<T>(beta_in);
  const Tensor g = options.g.defined() ? detail::dense<T>(options.g) : Tensor{};
  auto like = [&](const Tensor& t) { return Tensor::empty(t.shape(), dtype_of<T>, device); };
  const Tensor r = like(q), w = like(q), key = like(q), a = like(q), b = like(q), value = like(v);
  subq::detail::run_row_pass(
      kOp, device,
      detail::DeltaRuleOperands<T>{q.data<T>(), k.data<T>(), v.data<T>(), beta.data<T>(), detail::data_or_null<T>(g),
                                   r.data<T>(), w.data<T>(), key.data<T>(), a.data<T>(), b.data<T>(), value.data<T>(),
                                   K, V, T(options.scale), T(kNormEpsilon), options.l2_normalize},
      s.B * s.L * s.H);
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
  const Tensor q = detail::host_f64(q_in), k = detail::host_f64(k_in), v = detail::host_f64(v_in),
               beta = detail::host_f64(beta_in);
  const Tensor g = options.g.defined() ? detail::host_f64(options.g) : Tensor{};
  Tensor S = options.initial_state.defined() ? detail::host_f64(options.initial_state).clone()
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
        const double qf = detail::l2_norm_factor(qt, K, options.l2_normalize, kNormEpsilon);
        const double kf = detail::l2_norm_factor(kt, K, options.l2_normalize, kNormEpsilon);
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
