#include "recurrent/rglru.hpp"

#include <cmath>
#include <vector>

#include "core/check.hpp"
#include "core/dense.hpp"
#include "core/dispatch.hpp"
#include "core/math.hpp"
#include "core/row_pass.hpp"
#include "recurrent/qkv.hpp"
#include "recurrent/rglru_passes.hpp"
#include "scan/linear_recurrence.hpp"

namespace subq::recurrent {

namespace {

constexpr const char* kOp = "rglru";
constexpr double kGateExponent = 8;  // Griffin's c: a = sigma(-a_param)^(c gate_a)

struct Sizes {
  std::int64_t B, L, D, H;
};

Sizes validate(const RgLru& layer, const Tensor& x, const Tensor& segment_pos, const Tensor& h0) {
  SUBQ_CHECK(layer.a_param.defined() && layer.a_param.dim() == 1 && layer.input_gate_w.defined() &&
                 layer.input_gate_w.dim() == 3,
             "{}: the layer's a_param (width) and input_gate.w (heads, width/heads, width/heads) are not loaded", kOp);
  const std::int64_t D = layer.a_param.size(0), H = layer.input_gate_w.size(0);
  SUBQ_CHECK(H >= 1 && D % H == 0, "{}: {} heads do not divide width {}", kOp, H, D);
  const std::int64_t Dh = D / H;
  check_shape(kOp, "input_gate.w", layer.input_gate_w, {H, Dh, Dh});
  check_shape(kOp, "a_gate.w", layer.a_gate_w, {H, Dh, Dh});
  check_shape(kOp, "input_gate.b", layer.input_gate_b, {H, Dh});
  check_shape(kOp, "a_gate.b", layer.a_gate_b, {H, Dh});
  SUBQ_CHECK(x.defined() && x.dim() == 3 && x.size(2) == D, "{}: x: expected (batch, length, {}), found {}", kOp, D,
             x.defined() ? to_string(x.shape()) : "nothing");
  const Sizes s{x.size(0), x.size(1), D, H};
  const Device device = x.device();
  if (device.is_cuda())
    SUBQ_CHECK(x.dtype() == DType::F32, "{} on {}: x: expected float32, found {}", kOp, to_string(device),
               dtype_name(x.dtype()));
  else
    SUBQ_CHECK(x.dtype() == DType::F32 || x.dtype() == DType::F64, "{}: x: expected float32 or float64, found {}", kOp,
               dtype_name(x.dtype()));
  for (const auto& [name, t] : NamedTensors{{"a_param", &layer.a_param},
                                            {"input_gate.w", &layer.input_gate_w},
                                            {"input_gate.b", &layer.input_gate_b},
                                            {"a_gate.w", &layer.a_gate_w},
                                            {"a_gate.b", &layer.a_gate_b},
                                            {"h0", &h0}})
    SUBQ_CHECK(!t->defined() || (t->dtype() == x.dtype() && t->device() == device),
               "{}: {}: expected {} on {} (x's), found {} on {}", kOp, name, dtype_name(x.dtype()), to_string(device),
               dtype_name(t->dtype()), to_string(t->device()));
  if (segment_pos.defined()) {
    check_shape(kOp, "segment_pos", segment_pos, {s.B, s.L});
    SUBQ_CHECK(segment_pos.dtype() == DType::I64 && segment_pos.device() == device,
               "{}: segment_pos: expected int64 on {}, found {} on {}", kOp, to_string(device),
               dtype_name(segment_pos.dtype()), to_string(segment_pos.device()));
  }
  detail::check_optional_shape(kOp, "h0", h0, {s.B, D});
  return s;
}

/// sigmoid(x W + b) per head block, for the rows of x (rows, D): (rows, D) on x's device.
template <class T>
Tensor block_diagonal_gate(const Tensor& x, const Tensor& w, const Tensor& b, const Sizes& s) {
  const Tensor gate = block_diagonal_linear(x, detail::dense<T>(w));
  const Tensor bias = detail::dense<T>(b);
  subq::detail::run_row_pass(kOp, x.device(), detail::SigmoidWithBias<T>{gate.data<T>(), bias.data<T>(), s.D},
                             s.B * s.L);
  return gate;
}

bool resets_at(const Tensor& segment_pos, std::int64_t row) {
  return segment_pos.defined() && segment_pos.data<std::int64_t>()[row] == 0;
}

template <class T>
RgLruResult scanned(const RgLru& layer, const Tensor& x_in, const Tensor& segment_pos_in, const Tensor& h0,
                    const Sizes& s) {
  const Device device = x_in.device();
  const std::int64_t D = s.D;
  const Tensor x = detail::dense<T>(x_in).view({s.B * s.L, D}), a_param = detail::dense<T>(layer.a_param);
  const Tensor segment_pos = segment_pos_in.defined() ? segment_pos_in.contiguous() : Tensor{};
  const Tensor a = block_diagonal_gate<T>(x, layer.a_gate_w, layer.a_gate_b, s);          // gate_a, then a in place
  const Tensor b = block_diagonal_gate<T>(x, layer.input_gate_w, layer.input_gate_b, s);  // gate_x, then the input
  // The decay rates are the channels': softplus once per call, not per step.
  const Tensor rate = Tensor::empty({D}, dtype_of<T>, device);
  subq::detail::run_row_pass(kOp, device,
                             detail::RgLruDecayRates<T>{a_param.data<T>(), rate.data<T>(), T(kGateExponent)}, D);
  subq::detail::run_row_pass(kOp, device,
                             detail::RgLruCoefficients<T>{a.data<T>(), b.data<T>(), x.data<T>(), rate.data<T>(),
                                                          detail::data_or_null<std::int64_t>(segment_pos), D},
                             s.B * s.L);
  // The scan core takes (batch, channels, length): these are (batch, length, width) read
  // transposed on the CPU; CUDA's scan wants each channel's steps adjacent.
  const auto channels_first = [&](const Tensor& t) {
    const Tensor view = t.view({s.B, s.L, D}).transpose(1, 2);
    return device.is_cuda() ? view.contiguous() : view;
  };
  const scan::LinearRecurrenceResult r = scan::linear_recurrence(channels_first(a), channels_first(b), h0);
  return {r.h.transpose(1, 2).contiguous(), r.final_state};
}

template <class T>
RgLruResult recurrent_typed(const RgLru& layer, const Tensor& x_in, const Tensor& segment_pos_in, const Tensor& h0,
                            const Sizes& s) {
  const std::int64_t D = s.D, Dh = D / s.H;
  const Tensor x = detail::host_f64(x_in), a_param = detail::host_f64(layer.a_param),
               wx = detail::host_f64(layer.input_gate_w), bx = detail::host_f64(layer.input_gate_b),
               wa = detail::host_f64(layer.a_gate_w), ba = detail::host_f64(layer.a_gate_b);
  const Tensor segment_pos = segment_pos_in.defined() ? segment_pos_in.to(Device::cpu()).contiguous() : Tensor{};
  Tensor h = h0.defined() ? detail::host_f64(h0).clone() : Tensor::zeros({s.B, D}, DType::F64);
  Tensor y = Tensor::empty({s.B, s.L, D}, DType::F64);
  for (std::int64_t b = 0; b < s.B; ++b)
    for (std::int64_t t = 0; t < s.L; ++t) {
      const std::int64_t row = b * s.L + t;
      const double* xt = x.data<double>() + row * D;
      for (std::int64_t i = 0; i < D; ++i) {
        const std::int64_t head = i / Dh, j = i % Dh;
        double gx = bx.data<double>()[i], ga = ba.data<double>()[i];
        for (std::int64_t c = 0; c < Dh; ++c) {
          gx += xt[head * Dh + c] * wx.data<double>()[(head * Dh + c) * Dh + j];
          ga += xt[head * Dh + c] * wa.data<double>()[(head * Dh + c) * Dh + j];
        }
        const double log_a = -kGateExponent * sigmoid(ga) * softplus(a_param.data<double>()[i]);
        double& state = h.data<double>()[b * D + i];
        const double input = xt[i] * sigmoid(gx);
        state =
            resets_at(segment_pos, row) ? input : std::exp(log_a) * state + std::sqrt(1 - std::exp(2 * log_a)) * input;
        y.data<double>()[row * D + i] = state;
      }
    }
  return {y.to(dtype_of<T>), h.to(dtype_of<T>)};
}

}  // namespace

RgLru RgLru::load(Checkpoint& weights, const std::string& prefix, std::int64_t width, std::int64_t heads,
                  RgLruNames names, DType dtype) {
  const bool hf = names == RgLruNames::Transformers;
  SUBQ_CHECK(heads >= 1 && width % heads == 0, "{}: {} heads do not divide width {}", prefix, heads, width);
  const std::int64_t Dh = width / heads;
  auto take = [&](const char* ours, const char* theirs, const Shape& shape) {
    return weights.take(prefix + (hf ? theirs : ours), shape, dtype);
  };
  return {take("a_param", "recurrent_param", {width}), take("input_gate.w", "input_gate_weight", {heads, Dh, Dh}),
          take("input_gate.b", "input_gate_bias", {heads, Dh}),
          take("a_gate.w", "recurrent_gate_weight", {heads, Dh, Dh}),
          take("a_gate.b", "recurrent_gate_bias", {heads, Dh})};
}

RgLruResult rglru(const RgLru& layer, const Tensor& x, const Tensor& segment_pos, const Tensor& h0) {
  const Sizes s = validate(layer, x, segment_pos, h0);
  return dispatch(FloatTypes{}, kOp, x.dtype(),
                  [&](auto zero) { return scanned<decltype(zero)>(layer, x, segment_pos, h0, s); });
}

RgLruResult rglru_recurrent(const RgLru& layer, const Tensor& x, const Tensor& segment_pos, const Tensor& h0) {
  const Sizes s = validate(layer, x, segment_pos, h0);
  return dispatch(FloatTypes{}, kOp, x.dtype(),
                  [&](auto zero) { return recurrent_typed<decltype(zero)>(layer, x, segment_pos, h0, s); });
}

}  // namespace subq::recurrent
