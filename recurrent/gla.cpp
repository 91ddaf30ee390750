#include "recurrent/gla.hpp"

#include <cmath>
#include <vector>

#include "core/dispatch.hpp"
#include "core/row_pass.hpp"
#include "recurrent/gla_passes.hpp"
#include "recurrent/qkv.hpp"
#include "recurrent/wkv6.hpp"

namespace subq::recurrent {

namespace {

constexpr const char* kOp = "gla";

detail::QkvSizes validate(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& gk,
                          const GlaOptions& options) {
  const detail::QkvSizes s = detail::check_qkv(kOp, q, k, v, {{"gk", &gk}, {"initial_state", &options.initial_state}});
  check_shape(kOp, "gk", gk, q.shape());
  detail::check_optional_shape(kOp, "initial_state", options.initial_state, {s.B, s.H, s.dk, s.dv});
  SUBQ_CHECK(options.chunk_length >= 0, "{}: chunk_length must be >= 0, found {}", kOp, options.chunk_length);
  return s;
}

template <class T>
GlaResult through_wkv6(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const Tensor& gk_in,
                       const GlaOptions& options, const detail::QkvSizes& s) {
  const Device device = q_in.device();
  const std::int64_t K = s.dk, V = s.dv, rows = s.B * s.L * s.H;
  const Tensor q = detail::dense<T>(q_in), k = detail::dense<T>(k_in), v = detail::dense<T>(v_in),
               gk = detail::dense<T>(gk_in);
  const Tensor r = Tensor::empty(q.shape(), dtype_of<T>, device);
  subq::detail::run_row_pass(
      kOp, device, detail::GlaReceptance<T>{q.data<T>(), gk.data<T>(), r.data<T>(), K, T(options.scale)}, rows);
  Wkv6Options wkv;
  wkv.initial_state = options.initial_state;
  wkv.chunk_length = options.chunk_length;
  const Tensor no_bonus = Tensor::zeros({s.H, K}, dtype_of<T>, device);
  const Wkv6Result result = wkv6(r, k, v, gk, no_bonus, wkv);
  const Tensor o = result.o.contiguous();
  subq::detail::run_row_pass(
      kOp, device, detail::GlaOwnStep<T>{q.data<T>(), k.data<T>(), v.data<T>(), o.data<T>(), K, V, T(options.scale)},
      rows);
  return {o, result.final_state};
}

template <class T>
GlaResult recurrent_typed(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const Tensor& gk_in,
                          const GlaOptions& options, const detail::QkvSizes& s) {
  const std::int64_t K = s.dk, V = s.dv, L = s.L, H = s.H;
  const Tensor q = detail::host_f64(q_in), k = detail::host_f64(k_in), v = detail::host_f64(v_in),
               gk = detail::host_f64(gk_in);
  Tensor S = options.initial_state.defined() ? detail::host_f64(options.initial_state).clone()
                                             : Tensor::zeros({s.B, H, K, V}, DType::F64);
  Tensor o = Tensor::empty(v.shape(), DType::F64);
  for (std::int64_t b = 0; b < s.B; ++b)
    for (std::int64_t h = 0; h < H; ++h) {
      double* state = S.data<double>() + (b * H + h) * K * V;
      for (std::int64_t t = 0; t < L; ++t) {
        const std::int64_t row = (b * L + t) * H + h;
        const double *qt = q.data<double>() + row * K, *kt = k.data<double>() + row * K,
                     *gt = gk.data<double>() + row * K, *vt = v.data<double>() + row * V;
        for (std::int64_t i = 0; i < K; ++i)
          for (std::int64_t j = 0; j < V; ++j) state[i * V + j] = std::exp(gt[i]) * state[i * V + j] + kt[i] * vt[j];
        double* ot = o.data<double>() + row * V;
        for (std::int64_t j = 0; j < V; ++j) {
          double sum = 0;
          for (std::int64_t i = 0; i < K; ++i) sum += qt[i] * state[i * V + j];
          ot[j] = options.scale * sum;
        }
      }
    }
  return {o.to(dtype_of<T>), S.to(dtype_of<T>)};
}

}  // namespace

GlaResult gla(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& gk, const GlaOptions& options) {
  const detail::QkvSizes s = validate(q, k, v, gk, options);
  return dispatch(FloatTypes{}, kOp, q.dtype(),
                  [&](auto zero) { return through_wkv6<decltype(zero)>(q, k, v, gk, options, s); });
}

GlaResult gla_recurrent(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& gk,
                        const GlaOptions& options) {
  const detail::QkvSizes s = validate(q, k, v, gk, options);
  return dispatch(FloatTypes{}, kOp, q.dtype(),
                  [&](auto zero) { return recurrent_typed<decltype(zero)>(q, k, v, gk, options, s); });
}

}  // namespace subq::recurrent
