#include "recurrent/layer_ops.hpp"

#include <algorithm>

#include "core/check.hpp"
#include "core/dense.hpp"
#include "core/math.hpp"
#include "hybrid/architecture.hpp"
#include "recurrent/layer_ops_cuda.hpp"

namespace subq::recurrent {

Tensor apply(const Norm& norm, const Tensor& x, double eps) { return layer_norm(x, norm.weight, norm.bias, eps); }

FlaEnds FlaEnds::load(Checkpoint& checkpoint, std::int64_t vocab, std::int64_t hidden, bool norm_bias, bool tied) {
  FlaEnds ends;
  ends.embeddings = checkpoint.take("model.embeddings.weight", {vocab, hidden});
  ends.norm = {checkpoint.take("model.norm.weight", {hidden}), norm_bias ? checkpoint.take("model.norm.bias", {hidden}) : Tensor{}};
  ends.lm_head = hybrid::output_head(checkpoint, "lm_head.weight", ends.embeddings, tied);
  return ends;
}

void check_layer_operands(const char* op, const Tensor& x, NamedTensors others, bool written_in_place) {
  SUBQ_CHECK(x.dtype() == DType::F32, "{}: x: expected float32, found {}", op, dtype_name(x.dtype()));
  SUBQ_CHECK(!written_in_place || x.is_contiguous(), "{}: x must be contiguous (it is written in place)", op);
  if (x.device().is_cuda())
    check_cuda_float32(op, x.device(), others);
  else
    check_same_device(op, x.device(), others);
}

namespace {

// count: how many of b's values repeat over a's (all of them, or b's last dimension broadcast).
std::int64_t broadcast_count(const char* op, const char* name, const Tensor& a, const Tensor& b) {
  const std::int64_t count = b.numel() == a.numel() ? a.numel() : a.size(-1);
  SUBQ_CHECK(b.numel() == count, "{}: {}: expected {} or {} values, found {}", op, name, a.numel(), a.size(-1), b.numel());
  return count;
}

// x shifted one step back in time (minus x when delta), the carried row or zeros first.
Tensor shifted(const Tensor& x_in, Tensor* carried, bool delta) {
  const Tensor x = x_in.contiguous(), first = carried && carried->defined() ? carried->contiguous() : Tensor{};
  check_layer_operands("token_shift", x, {{"carried", &first}});
  const std::int64_t B = x.size(0), L = x.size(1), H = x.size(2);
  if (first.defined()) check_shape("token_shift", "carried", first, {B, H});
  Tensor s = Tensor::empty(x.shape(), DType::F32, x.device());
  const float* f = first.defined() ? first.data<float>() : nullptr;
  if (x.device().is_cuda()) {
    check_launch("token_shift", x.device(), detail::launch_token_shift(s.data<float>(), x.data<float>(), f, B, L, H, delta));
  } else {
    float* sp = s.data<float>();
    const float* xp = x.data<float>();
    for (std::int64_t i = 0; i < s.numel(); ++i) {
      const std::int64_t t = i / H % L;
      const float before = t > 0 ? xp[i - H] : f ? f[i / (H * L) * H + i % H] : 0.0f;
      sp[i] = delta ? before - xp[i] : before;
    }
  }
  if (carried && L > 0) *carried = x.select(1, L - 1).contiguous();
  return s;
}

}  // namespace

Tensor token_shift(const Tensor& x, Tensor* carried) { return shifted(x, carried, false); }

Tensor token_delta(const Tensor& x, Tensor* carried) { return shifted(x, carried, true); }

Tensor activate(Tensor t, Activation f) {
  check_layer_operands("activate", t, {}, true);
  if (t.device().is_cuda()) {
    check_launch("activate", t.device(), detail::launch_activate(t.data<float>(), t.numel(), f));
    return t;
  }
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = activation(f, p[i]);
  return t;
}

Tensor multiply(Tensor a, const Tensor& b_in) {
  const Tensor b = b_in.contiguous();
  check_layer_operands("multiply", a, {{"b", &b}}, true);
  const std::int64_t n = broadcast_count("multiply", "b", a, b);
  if (a.device().is_cuda()) {
    check_launch("multiply", a.device(), detail::launch_multiply(a.data<float>(), b.data<float>(), a.numel(), n));
    return a;
  }
  float* ap = a.data<float>();
  const float* bp = b.data<float>();
  for (std::int64_t i = 0; i < a.numel(); ++i) ap[i] *= bp[i % n];
  return a;
}

Tensor add_scaled(const Tensor& a_in, const Tensor& b_in, const Tensor& c_in) {
  const Tensor a = a_in.contiguous(), b = b_in.contiguous(), c = c_in.contiguous();
  check_layer_operands("add_scaled", a, {{"b", &b}, {"c", &c}});
  check_shape("add_scaled", "b", b, a.shape());
  const std::int64_t n = broadcast_count("add_scaled", "c", a, c);
  Tensor y = Tensor::empty(a.shape(), DType::F32, a.device());
  if (a.device().is_cuda()) {
    check_launch("add_scaled", a.device(),
                 detail::launch_add_scaled(y.data<float>(), a.data<float>(), b.data<float>(), c.data<float>(), a.numel(), n));
    return y;
  }
  float* yp = y.data<float>();
  const float *ap = a.data<float>(), *bp = b.data<float>(), *cp = c.data<float>();
  for (std::int64_t i = 0; i < a.numel(); ++i) yp[i] = ap[i] + bp[i] * cp[i % n];
  return y;
}

Tensor swish_product(Tensor a, const Tensor& b_in) {
  const Tensor b = b_in.contiguous();
  check_layer_operands("swish_product", a, {{"b", &b}}, true);
  check_shape("swish_product", "b", b, a.shape());
  if (a.device().is_cuda()) {
    check_launch("swish_product", a.device(), detail::launch_swish_product(a.data<float>(), b.data<float>(), a.numel()));
    return a;
  }
  float* p = a.data<float>();
  const float* q = b.data<float>();
  for (std::int64_t i = 0; i < a.numel(); ++i) p[i] = silu(p[i]) * q[i];
  return a;
}

Tensor lerp(const Tensor& a_in, const Tensor& b_in, const Tensor& m_in) {
  const Tensor a = a_in.contiguous(), b = b_in.contiguous(), m = m_in.contiguous();
  check_layer_operands("lerp", b, {{"a", &a}, {"m", &m}});
  const std::int64_t H = b.size(-1);
  check_shape("lerp", "m", m, {1, 1, H});
  check_shape("lerp", "a", a, b.shape());
  Tensor y = Tensor::empty(b.shape(), DType::F32, b.device());
  if (b.device().is_cuda()) {
    check_launch("lerp", b.device(),
                 detail::launch_lerp(y.data<float>(), a.data<float>(), b.data<float>(), m.data<float>(), y.numel(), H));
    return y;
  }
  float* yp = y.data<float>();
  const float *ap = a.data<float>(), *bp = b.data<float>(), *mp = m.data<float>();
  for (std::int64_t i = 0; i < y.numel(); ++i) yp[i] = bp[i] * mp[i % H] + ap[i] * (1 - mp[i % H]);
  return y;
}

}  // namespace subq::recurrent
