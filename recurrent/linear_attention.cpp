#include "recurrent/linear_attention.hpp"

#include <cmath>
#include <vector>

#include "core/dispatch.hpp"
#include "core/row_pass.hpp"
#include "recurrent/linear_attention_passes.hpp"
#include "recurrent/qkv.hpp"
#include "recurrent/ssd_states.hpp"
#include "ssm/ssd.hpp"

namespace subq::recurrent {

namespace {

constexpr const char* kOp = "linear_attention";

template <class T>
T feature(FeatureMap map, T x) {
  return map == FeatureMap::Elu1 ? detail::elu_plus_one(x) : x;
}

detail::QkvSizes validate(const Tensor& q, const Tensor& k, const Tensor& v, const LinearAttentionOptions& options) {
  const detail::QkvSizes s = detail::check_qkv(
      kOp, q, k, v, {{"initial_state", &options.initial_state}, {"initial_normalizer", &options.initial_normalizer}});
  detail::check_optional_shape(kOp, "initial_state", options.initial_state, {s.B, s.H, s.dk, s.dv});
  detail::check_optional_shape(kOp, "initial_normalizer", options.initial_normalizer, {s.B, s.H, s.dk});
  SUBQ_CHECK(options.normalize || !options.initial_normalizer.defined(),
             "{}: initial_normalizer is given but normalize is off", kOp);
  SUBQ_CHECK(options.chunk_length >= 0, "{}: chunk_length must be >= 0, found {}", kOp, options.chunk_length);
  return s;
}

template <class T>
LinearAttentionResult chunked(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                              const LinearAttentionOptions& options, const detail::QkvSizes& s) {
  const Device device = q_in.device();
  const std::int64_t K = s.dk, V = s.dv, P = V + (options.normalize ? 1 : 0), rows = s.B * s.L * s.H;
  const Tensor q = detail::dense<T>(q_in), k = detail::dense<T>(k_in), v = detail::dense<T>(v_in);
  const Tensor X = Tensor::empty({s.B, s.L, s.H, P}, dtype_of<T>, device);
  const Tensor features_k = Tensor::empty(q.shape(), dtype_of<T>, device);
  const Tensor features_q = Tensor::empty(q.shape(), dtype_of<T>, device);
  subq::detail::run_row_pass(kOp, device,
                             detail::LinearAttentionOperands<T>{
                                 q.data<T>(), k.data<T>(), v.data<T>(), features_q.data<T>(), features_k.data<T>(),
                                 X.data<T>(), K, V, P, options.feature_map == FeatureMap::Elu1, T(options.scale)},
                             rows);
  ssm::SsdOptions ssd_options;
  ssd_options.chunk_length = options.chunk_length;
  ssd_options.initial_state =
      detail::ssd_initial_state<T>(kOp, options.initial_state, options.initial_normalizer, P, s, device);
  const Tensor no_decay = Tensor::zeros({1, 1, 1}, dtype_of<T>, device).expand({s.B, s.L, s.H});
  const ssm::SsdResult r = ssm::ssd(X, no_decay, features_k, features_q, ssd_options);
  LinearAttentionResult out{Tensor::empty(v.shape(), dtype_of<T>, device),
                            Tensor::empty({s.B, s.H, K, V}, dtype_of<T>, device),
                            options.normalize ? Tensor::empty({s.B, s.H, K}, dtype_of<T>, device) : Tensor{}};
  subq::detail::run_row_pass(
      kOp, device, detail::NormalizedOutputs<T>{r.Y.data<T>(), out.o.data<T>(), V, P, T(options.epsilon)}, rows);
  detail::unpack_ssd_state<T>(kOp, r.final_state, out.final_state, out.final_normalizer, s);
  return out;
}

template <class T>
LinearAttentionResult recurrent_typed(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                                      const LinearAttentionOptions& options, const detail::QkvSizes& s) {
  const std::int64_t K = s.dk, V = s.dv, L = s.L, H = s.H;
  const Tensor q = detail::host_f64(q_in), k = detail::host_f64(k_in), v = detail::host_f64(v_in);
  Tensor S = options.initial_state.defined() ? detail::host_f64(options.initial_state).clone()
                                             : Tensor::zeros({s.B, H, K, V}, DType::F64);
  Tensor z = options.initial_normalizer.defined() ? detail::host_f64(options.initial_normalizer).clone()
                                                  : Tensor::zeros({s.B, H, K}, DType::F64);
  Tensor o = Tensor::empty(v.shape(), DType::F64);
  std::vector<double> phi_k(static_cast<std::size_t>(K)), phi_q(phi_k.size());
  for (std::int64_t b = 0; b < s.B; ++b)
    for (std::int64_t h = 0; h < H; ++h) {
      double* state = S.data<double>() + (b * H + h) * K * V;
      double* sum = z.data<double>() + (b * H + h) * K;
      for (std::int64_t t = 0; t < L; ++t) {
        const std::int64_t row = (b * L + t) * H + h;
        const double *qt = q.data<double>() + row * K, *kt = k.data<double>() + row * K,
                     *vt = v.data<double>() + row * V;
        double denominator = options.epsilon;
        for (std::int64_t i = 0; i < K; ++i) {
          phi_k[i] = feature(options.feature_map, kt[i]);
          phi_q[i] = options.scale * feature(options.feature_map, qt[i]);
          for (std::int64_t j = 0; j < V; ++j) state[i * V + j] += phi_k[i] * vt[j];
          sum[i] += phi_k[i];
          denominator += phi_q[i] * sum[i];
        }
        double* ot = o.data<double>() + row * V;
        for (std::int64_t j = 0; j < V; ++j) {
          double numerator = 0;
          for (std::int64_t i = 0; i < K; ++i) numerator += phi_q[i] * state[i * V + j];
          ot[j] = options.normalize ? numerator / denominator : numerator;
        }
      }
    }
  LinearAttentionResult out{o.to(dtype_of<T>), S.to(dtype_of<T>), {}};
  if (options.normalize) out.final_normalizer = z.to(dtype_of<T>);
  return out;
}

}  // namespace

LinearAttentionResult linear_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                       const LinearAttentionOptions& options) {
  const detail::QkvSizes s = validate(q, k, v, options);
  return dispatch(FloatTypes{}, kOp, q.dtype(),
                  [&](auto zero) { return chunked<decltype(zero)>(q, k, v, options, s); });
}

LinearAttentionResult linear_attention_recurrent(const Tensor& q, const Tensor& k, const Tensor& v,
                                                 const LinearAttentionOptions& options) {
  const detail::QkvSizes s = validate(q, k, v, options);
  return dispatch(FloatTypes{}, kOp, q.dtype(),
                  [&](auto zero) { return recurrent_typed<decltype(zero)>(q, k, v, options, s); });
}

}  // namespace subq::recurrent
