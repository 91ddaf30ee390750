#include "recurrent/mlstm.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/dispatch.hpp"
#include "recurrent/ssd_form.hpp"
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
T log_forget(ForgetGate gate, T pre) {
  if (gate == ForgetGate::Exponential) return pre;
  return pre < T(0) ? pre - std::log1p(std::exp(pre)) : -std::log1p(std::exp(-pre));  // log sigmoid, stably
}

template <class T>
MlstmResult through_ssd(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const Tensor& i_in,
                        const Tensor& f_in, const MlstmOptions& options, const detail::QkvSizes& s) {
  const std::int64_t K = s.dk, V = s.dv, P = V + 1, L = s.L, H = s.H;
  const Tensor v = detail::dense<T>(v_in), input_gate = detail::dense<T>(i_in), forget_gate = detail::dense<T>(f_in);
  Tensor m = Tensor::empty({s.B, L, H}, dtype_of<T>), log_decay = Tensor::empty({s.B, L, H}, dtype_of<T>);
  Tensor final_m =
      options.initial_m.defined() ? detail::dense<T>(options.initial_m).clone() : Tensor::zeros({s.B, H}, dtype_of<T>);
  // The stabiliser, in order along each head's steps: one scalar per head and step.
  detail::for_rows(s.B * H, [&](std::int64_t bh) {
    const std::int64_t b = bh / H, h = bh % H;
    T previous = final_m.data<T>()[bh];
    for (std::int64_t t = 0; t < L; ++t) {
      const std::int64_t row = (b * L + t) * H + h;
      const T log_f = log_forget(options.forget_gate, forget_gate.data<T>()[row]);
      const T current = std::max(log_f + previous, input_gate.data<T>()[row]);
      m.data<T>()[row] = current;
      log_decay.data<T>()[row] = log_f + previous - current;
      previous = current;
    }
    final_m.data<T>()[bh] = previous;
  });
  Tensor X = Tensor::empty({s.B, L, H, P}, dtype_of<T>);
  detail::for_rows(s.B * L * H, [&](std::int64_t row) {
    const T input_scale = std::exp(input_gate.data<T>()[row] - m.data<T>()[row]);
    for (std::int64_t j = 0; j < V; ++j) X.data<T>()[row * P + j] = input_scale * v.data<T>()[row * V + j];
    X.data<T>()[row * P + V] = input_scale;
  });
  ssm::SsdOptions ssd_options;
  ssd_options.chunk_length = options.chunk_length;
  ssd_options.initial_state = detail::to_ssd_state<T>(options.initial_C, options.initial_n, true, s);
  const Tensor keys = [&] {
    Tensor scaled = detail::dense<T>(k_in).clone();
    const T factor = T(1 / std::sqrt(double(K)));
    for (std::int64_t i = 0; i < scaled.numel(); ++i) scaled.data<T>()[i] *= factor;
    return scaled;
  }();
  const ssm::SsdResult r = ssm::ssd(X, log_decay, keys, detail::dense<T>(q_in), ssd_options);
  MlstmResult out;
  out.h = Tensor::empty(v.shape(), dtype_of<T>);
  detail::for_rows(s.B * L * H, [&](std::int64_t row) {
    const T* y = r.Y.data<T>() + row * P;
    const T denominator = std::max(std::abs(y[V]), std::exp(-m.data<T>()[row])) + T(options.epsilon);
    for (std::int64_t j = 0; j < V; ++j) out.h.data<T>()[row * V + j] = y[j] / denominator;
  });
  out.final_C = detail::state_from_ssd<T>(r.final_state, s);
  out.final_n = detail::normalizer_from_ssd(r.final_state);
  out.final_m = final_m;
  return out;
}

template <class T>
MlstmResult recurrent_typed(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const Tensor& i_in,
                            const Tensor& f_in, const MlstmOptions& options, const detail::QkvSizes& s) {
  const std::int64_t K = s.dk, V = s.dv, L = s.L, H = s.H;
  auto start = [](const Tensor& given, const Shape& shape) {
    return given.defined() ? detail::dense<double>(given).clone() : Tensor::zeros(shape, DType::F64);
  };
  const Tensor q = detail::dense<double>(q_in), k = detail::dense<double>(k_in), v = detail::dense<double>(v_in),
               input_gate = detail::dense<double>(i_in), forget_gate = detail::dense<double>(f_in);
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
        const double log_f = log_forget(options.forget_gate, forget_gate.data<double>()[row]);
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
