#include "recurrent/based.hpp"

#include <cmath>

#include "core/dispatch.hpp"
#include "core/row_pass.hpp"
#include "recurrent/linear_attention.hpp"
#include "recurrent/linear_attention_passes.hpp"
#include "recurrent/qkv.hpp"

namespace subq::recurrent {

namespace {

constexpr const char* kOp = "based";
constexpr double kEpsilon = 1e-6;  // fla's based normaliser

template <class T>
Tensor taylor_typed(const Tensor& x_in, double scale) {
  const Tensor x = detail::dense<T>(x_in);
  const std::int64_t K = x.size(-1), F = 1 + K + K * (K + 1) / 2, rows = K > 0 ? x.numel() / K : 0;
  Shape shape = x.shape();
  shape.back() = F;
  Tensor features = Tensor::empty(shape, dtype_of<T>, x.device());
  // (sqrt 2)(scale / sqrt 2) = scale: each off-diagonal product stands for its two orders.
  subq::detail::run_row_pass("taylor_features", x.device(),
                             detail::TaylorFeatures<T>{x.data<T>(), features.data<T>(), K, T(std::sqrt(scale)),
                                                       T(scale / std::sqrt(2.0)), T(scale)},
                             rows);
  return features;
}

template <class T>
Tensor reference_typed(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const BasedOptions& options,
                       const detail::QkvSizes& s) {
  const Tensor q = detail::host_f64(q_in), k = detail::host_f64(k_in), v = detail::host_f64(v_in);
  Tensor o = Tensor::zeros(v.shape(), DType::F64);
  const std::int64_t H = s.H, K = s.dk, V = s.dv;
  for (std::int64_t b = 0; b < s.B; ++b)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t t = 0; t < s.L; ++t) {
        const double* qt = q.data<double>() + ((b * s.L + t) * H + h) * K;
        double* ot = o.data<double>() + ((b * s.L + t) * H + h) * V;
        double total = 0;
        for (std::int64_t j = 0; j <= t; ++j) {
          const double* kj = k.data<double>() + ((b * s.L + j) * H + h) * K;
          const double* vj = v.data<double>() + ((b * s.L + j) * H + h) * V;
          double x = 0;
          for (std::int64_t i = 0; i < K; ++i) x += qt[i] * kj[i];
          x *= options.scale;
          const double a = 1 + x + x * x / 2;
          total += a;
          for (std::int64_t i = 0; i < V; ++i) ot[i] += a * vj[i];
        }
        if (options.normalize)
          for (std::int64_t i = 0; i < V; ++i) ot[i] /= total + kEpsilon;
      }
  return o.to(dtype_of<T>);
}

}  // namespace

Tensor taylor_features(const Tensor& x, double scale) {
  SUBQ_CHECK(x.defined() && x.dim() >= 1, "taylor_features: x: expected (..., d_k), found {}",
             x.defined() ? to_string(x.shape()) : "nothing");
  if (x.device().is_cuda())
    SUBQ_CHECK(x.dtype() == DType::F32, "taylor_features on {}: x: expected float32, found {}", to_string(x.device()),
               dtype_name(x.dtype()));
  return dispatch(FloatTypes{}, "taylor_features", x.dtype(),
                  [&](auto zero) { return taylor_typed<decltype(zero)>(x, scale); });
}

Tensor based(const Tensor& q, const Tensor& k, const Tensor& v, const BasedOptions& options) {
  detail::check_qkv(kOp, q, k, v);
  LinearAttentionOptions linear;
  linear.normalize = options.normalize;
  linear.epsilon = kEpsilon;
  linear.chunk_length = options.chunk_length;
  return linear_attention(taylor_features(q, options.scale), taylor_features(k, options.scale), v, linear).o;
}

Tensor based_reference(const Tensor& q, const Tensor& k, const Tensor& v, const BasedOptions& options) {
  const detail::QkvSizes s = detail::check_qkv(kOp, q, k, v);
  return dispatch(FloatTypes{}, kOp, q.dtype(),
                  [&](auto zero) { return reference_typed<decltype(zero)>(q, k, v, options, s); });
}

}  // namespace subq::recurrent
