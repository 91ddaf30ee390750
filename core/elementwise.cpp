#include "core/elementwise.hpp"

#include "core/check.hpp"
#include "core/elementwise_cuda.hpp"
#include "core/math.hpp"
#include "core/vector_math.hpp"

namespace subq {

namespace {

// count: how many of b's values repeat over a's (all of them, or b's last dimension broadcast).
std::int64_t broadcast_count(const char* op, const char* name, const Tensor& a, const Tensor& b) {
  const std::int64_t count = b.numel() == a.numel() ? a.numel() : a.size(-1);
  SUBQ_CHECK(b.numel() == count, "{}: {}: expected {} or {} values, found {}", op, name, a.numel(), a.size(-1),
             b.numel());
  return count;
}

}  // namespace

Tensor activate(Tensor t, Activation f) {
  check_float32_operands("activate", t, {}, true);
  float* p = t.data<float>();
  if (t.device().is_cuda()) {
    launch_on_cuda("activate", t.device(), [&] { return detail::launch_activate(p, t.numel(), f); });
    return t;
  }
  activate_span(p, t.numel(), f);
  return t;
}

Tensor multiply(Tensor a, const Tensor& b_in) {
  const Tensor b = b_in.contiguous();
  check_float32_operands("multiply", a, {{"b", &b}}, true);
  const std::int64_t n = broadcast_count("multiply", "b", a, b);
  float* ap = a.data<float>();
  const float* bp = b.data<float>();
  if (a.device().is_cuda()) {
    launch_on_cuda("multiply", a.device(), [&] { return detail::launch_multiply(ap, bp, a.numel(), n); });
    return a;
  }
  for (std::int64_t i = 0; i < a.numel(); ++i) ap[i] *= bp[i % n];
  return a;
}

Tensor add_scaled(const Tensor& a_in, const Tensor& b_in, const Tensor& c_in) {
  const Tensor a = a_in.contiguous(), b = b_in.contiguous(), c = c_in.contiguous();
  check_float32_operands("add_scaled", a, {{"b", &b}, {"c", &c}});
  check_shape("add_scaled", "b", b, a.shape());
  const std::int64_t n = broadcast_count("add_scaled", "c", a, c);
  Tensor y = Tensor::empty(a.shape(), DType::F32, a.device());
  float* yp = y.data<float>();
  const float *ap = a.data<float>(), *bp = b.data<float>(), *cp = c.data<float>();
  if (a.device().is_cuda()) {
    launch_on_cuda("add_scaled", a.device(), [&] { return detail::launch_add_scaled(yp, ap, bp, cp, a.numel(), n); });
    return y;
  }
  for (std::int64_t i = 0; i < a.numel(); ++i) yp[i] = ap[i] + bp[i] * cp[i % n];
  return y;
}

Tensor swish_product(Tensor a, const Tensor& b_in) {
  const Tensor b = b_in.contiguous();
  check_float32_operands("swish_product", a, {{"b", &b}}, true);
  check_shape("swish_product", "b", b, a.shape());
  float* p = a.data<float>();
  const float* q = b.data<float>();
  if (a.device().is_cuda()) {
    launch_on_cuda("swish_product", a.device(), [&] { return detail::launch_swish_product(p, q, a.numel()); });
    return a;
  }
  for (std::int64_t i = 0; i < a.numel(); ++i) p[i] = silu(p[i]) * q[i];
  return a;
}

Tensor lerp(const Tensor& a_in, const Tensor& b_in, const Tensor& m_in) {
  const Tensor a = a_in.contiguous(), b = b_in.contiguous(), m = m_in.contiguous();
  check_float32_operands("lerp", b, {{"a", &a}, {"m", &m}});
  const std::int64_t H = b.size(-1);
  check_shape("lerp", "m", m, {1, 1, H});
  check_shape("lerp", "a", a, b.shape());
  Tensor y = Tensor::empty(b.shape(), DType::F32, b.device());
  float* yp = y.data<float>();
  const float *ap = a.data<float>(), *bp = b.data<float>(), *mp = m.data<float>();
  if (b.device().is_cuda()) {
    launch_on_cuda("lerp", b.device(), [&] { return detail::launch_lerp(yp, ap, bp, mp, y.numel(), H); });
    return y;
  }
  for (std::int64_t i = 0; i < y.numel(); ++i) yp[i] = bp[i] * mp[i % H] + ap[i] * (1 - mp[i % H]);
  return y;
}

}  // namespace subq
