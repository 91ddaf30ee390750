#include "recurrent/mlstm.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/dispatch.hpp"
#include "core/row_pass.hpp"
#include "recurrent/mlstm_passes.hpp"
#include "recurrent/qkv.hpp"
#include "recurrent/ssd_states.hpp"
#include "ssm/ssd.hpp"

namespace subq::recurrent {

namespace {

constexpr const char* kOp = "mlstm";

detail::QkvSizes validate(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& input_gate,
                          const Tensor& forget_gate, const MlstmOptions& options) {
  const detail::QkvSizes s = detail::check_qkv(kOp, q, k, v,
                                               {{"input_gate", &input_gate},
                                                {"forget_gate", &forget_gate},
                                                {"initial_C", &options.initial_C},
                                                {"initial_n", &options.initial_n},
                                                {"initial_m", &options.initial_m}});
  check_shape(kOp, "input_gate", input_gate, {s.B, s.L, s.H});
  check_shape(kOp, "forget_gate", forget_gate, {s.B, s.L, s.H});
  detail::check_optional_shape(kOp, "initial_C", options.initial_C, {s.B, s.H, s.dk, s.dv});
  detail::check_optional_shape(kOp, "initial_n", options.initial_n, {s.B, s.H, s.dk});
  detail::check_optional_shape(kOp, "initial_m", options.initial_m, {s.B, s.H});
  SUBQ_CHECK(options.chunk_length >= 0, "{}: chunk_length must be >= 0, found {}", kOp, options.chunk_length);
  return s;
}

template <class T>
MlstmResult through_ssd(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const Tensor& i_in,
                        const Tensor& f_in, const MlstmOptions& options, const detail::QkvSizes& s) {
  const Device device = q_in.device();
  const std::int64_t K = s.dk, V = s.dv, P = V + 1, L = s.L, H = s.H, rows = s.B * L * H;
  const Tensor k = detail::dense<T>(k_in), v = detail::dense<T>(v_in), input_gate = detail::dense<T>(i_in),
               forget_gate = detail::dense<T>(f_in);
  const Tensor m = Tensor::empty({s.B, L, H}, dtype_of<T>, device);
  const Tensor log_decay = Tensor::empty({s.B, L, H}, dtype_of<T>, device);
  const Tensor final_m = options.initial_m.defined() ? detail::dense<T>(options.initial_m).clone()
                                                     : Tensor::zeros({s.B, H}, dtype_of<T>, device);
  subq::detail::run_row_pass(
      kOp, device,
      detail::MlstmStabiliser<T>{input_gate.data<T>(), forget_gate.data<T>(), m.data<T>(), log_decay.data<T>(),
                                 final_m.data<T>(), L, H, options.forget_gate == ForgetGate::Exponential},
      s.B * H);
  const Tensor X = Tensor::empty({s.B, L, H, P}, dtype_of<T>, device),
               keys = Tensor::empty(k.shape(), dtype_of<T>, device);
  subq::detail::run_row_pass(kOp, device,
                             detail::MlstmInputs<T>{k.data<T>(), v.data<T>(), input_gate.data<T>(), m.data<T>(),
                                                    X.data<T>(), keys.data<T>(), K, V, T(1 / std::sqrt(double(K)))},
                             rows);
  ssm::SsdOptions ssd_options;
  ssd_options.chunk_length = options.chunk_length;
  ssd_options.initial_state = detail::ssd_initial_state<T>(kOp, options.initial_C, options.initial_n, P, s, device);
  const ssm::SsdResult r = ssm::ssd(X, log_decay, keys, detail::dense<T>(q_in), ssd_options);
  MlstmResult out{Tensor::empty(v.shape(), dtype_of<T>, device), Tensor::empty({s.B, H, K, V}, dtype_of<T>, device),
                  Tensor::empty({s.B, H, K}, dtype_of<T>, device), final_m};
  subq::detail::run_row_pass(
      kOp, device, detail::MlstmOutputs<T>{r.Y.data<T>(), m.data<T>(), out.h.data<T>(), V, T(options.epsilon)}, rows);
  detail::unpack_ssd_state<T>(kOp, r.final_state, out.final_C, out.final_n, s);
  return out;
}

template <class T>
MlstmResult recurrent_typed(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const Tensor& i_in,
                            const Tensor& f_in, const MlstmOptions& options, const detail::QkvSizes& s) {
  const std::int64_t K = s.dk, V = s.dv, L = s.L, H = s.H;
  auto start = [](const Tensor& given, const Shape& shape) {
    return given.defined() ? detail::host_f64(given).clone() : Tensor::zeros(shape, DType::F64);
  };
  const Tensor q = detail::host_f64(q_in), k = detail::host_f64(k_in), v = detail::host_f64(v_in),
               input_gate = detail::host_f64(i_in), forget_gate = detail::host_f64(f_in);
  Tensor C = start(options.initial_C, {s.B, H, K, V}), n = start(options.initial_n, {s.B, H, K}),
         m = start(options.initial_m, {s.B, H});
  Tensor h_out = Tensor::empty(v.shape(), DType::F64);
  const double key_scale = 1 / std::sqrt(double(K));
  for (std::int64_t b = 0; b < s.B; ++b)
    for (std::int64_t h = 0; h < H; ++h) {
      double *memory = C.data<double>() + (b * H + h) * K * V, *normaliser = n.data<double>() + (b * H + h) * K;
      double& stabiliser = m.data<double>()[b * H + h];
      for (std::int64_t t = 0; t < L; ++t) {
        const std::int64_t row = (b * L + t) * H + h;
        const double *qt = q.data<double>() + row * K, *kt = k.data<double>() + row * K,
                     *vt = v.data<double>() + row * V;
        const double log_f =
            detail::log_forget(options.forget_gate == ForgetGate::Exponential, forget_gate.data<double>()[row]);
        const double i = input_gate.data<double>()[row], m_new = std::max(log_f + stabiliser, i);
        const double f_scale = std::exp(log_f + stabiliser - m_new), i_scale = std::exp(i - m_new);
        stabiliser = m_new;
        double qn = 0;
        for (std::int64_t a = 0; a < K; ++a) {
          for (std::int64_t j = 0; j < V; ++j)
            memory[a * V + j] = f_scale * memory[a * V + j] + i_scale * kt[a] * key_scale * vt[j];
          normaliser[a] = f_scale * normaliser[a] + i_scale * kt[a] * key_scale;
          qn += qt[a] * normaliser[a];
        }
        const double denominator = std::max(std::abs(qn), std::exp(-m_new)) + options.epsilon;
        for (std::int64_t j = 0; j < V; ++j) {
          double sum = 0;
          for (std::int64_t a = 0; a < K; ++a) sum += qt[a] * memory[a * V + j];
          h_out.data<double>()[row * V + j] = sum / denominator;
        }
      }
    }
  return {h_out.to(dtype_of<T>), C.to(dtype_of<T>), n.to(dtype_of<T>), m.to(dtype_of<T>)};
}

}  // namespace

MlstmResult mlstm(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& input_gate,
                  const Tensor& forget_gate, const MlstmOptions& options) {
  const detail::QkvSizes s = validate(q, k, v, input_gate, forget_gate, options);
  return dispatch(FloatTypes{}, kOp, q.dtype(),
                  [&](auto zero) { return through_ssd<decltype(zero)>(q, k, v, input_gate, forget_gate, options, s); });
}

MlstmResult mlstm_recurrent(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& input_gate,
                            const Tensor& forget_gate, const MlstmOptions& options) {
  const detail::QkvSizes s = validate(q, k, v, input_gate, forget_gate, options);
  return dispatch(FloatTypes{}, kOp, q.dtype(), [&](auto zero) {
    return recurrent_typed<decltype(zero)>(q, k, v, input_gate, forget_gate, options, s);
  });
}

}  // namespace subq::recurrent
