#include "recurrent/layer_ops.hpp"

#include <algorithm>

#include "core/check.hpp"
#include "core/dense.hpp"
#include "core/math.hpp"
#include "hybrid/architecture.hpp"

namespace subq::recurrent {

Tensor apply(const Norm& norm, const Tensor& x, double eps) { return layer_norm(x, norm.weight, norm.bias, eps); }

FlaEnds FlaEnds::load(Checkpoint& checkpoint, std::int64_t vocab, std::int64_t hidden, bool norm_bias, bool tied) {
  FlaEnds ends;
  ends.embeddings = checkpoint.take("model.embeddings.weight", {vocab, hidden});
  ends.norm = {checkpoint.take("model.norm.weight", {hidden}), norm_bias ? checkpoint.take("model.norm.bias", {hidden}) : Tensor{}};
  ends.lm_head = hybrid::output_head(checkpoint, "lm_head.weight", ends.embeddings, tied);
  return ends;
}

Tensor token_shift(const Tensor& x, Tensor* carried) {
  const std::int64_t B = x.size(0), L = x.size(1), H = x.size(2);
  Tensor s = Tensor::empty(x.shape(), DType::F32);
  for (std::int64_t b = 0; b < B; ++b) {
    float* sb = s.data<float>() + b * L * H;
    const float* xb = x.data<float>() + b * L * H;
    const float* first = carried && carried->defined() ? carried->data<float>() + b * H : nullptr;
    for (std::int64_t h = 0; h < H; ++h) sb[h] = first ? first[h] : 0.0f;
    std::copy(xb, xb + (L - 1) * H, sb + H);
  }
  if (carried) *carried = x.select(1, L - 1).contiguous();
  return s;
}

Tensor token_delta(const Tensor& x, Tensor* carried) {
  Tensor d = token_shift(x, carried);
  float* dp = d.data<float>();
  const float* xp = x.data<float>();
  for (std::int64_t j = 0; j < d.numel(); ++j) dp[j] -= xp[j];
  return d;
}

Tensor multiply(Tensor a, const Tensor& b) {
  const std::int64_t n = b.numel() == a.numel() ? a.numel() : a.size(-1);
  float* ap = a.data<float>();
  const float* bp = b.data<float>();
  for (std::int64_t i = 0; i < a.numel(); ++i) ap[i] *= bp[i % n];
  return a;
}

Tensor add_scaled(const Tensor& a, const Tensor& b, const Tensor& c) {
  const std::int64_t n = c.numel() == a.numel() ? a.numel() : a.size(-1);
  Tensor y = Tensor::empty(a.shape(), DType::F32);
  float* yp = y.data<float>();
  const float *ap = a.data<float>(), *bp = b.data<float>(), *cp = c.data<float>();
  for (std::int64_t i = 0; i < a.numel(); ++i) yp[i] = ap[i] + bp[i] * cp[i % n];
  return y;
}

Tensor swish_product(Tensor a, const Tensor& b) {
  check_shape("swish_product", "b", b, a.shape());
  const Tensor bc = b.contiguous();
  float* p = a.data<float>();
  const float* q = bc.data<float>();
  for (std::int64_t i = 0; i < a.numel(); ++i) p[i] = silu(p[i]) * q[i];
  return a;
}

Tensor lerp(const Tensor& a, const Tensor& b, const Tensor& m) {
  const std::int64_t H = b.size(-1);
  check_shape("lerp", "m", m, {1, 1, H});
  Tensor y = Tensor::empty(b.shape(), DType::F32);
  const Tensor ac = a.contiguous(), bc = b.contiguous();
  float* yp = y.data<float>();
  const float *ap = ac.data<float>(), *bp = bc.data<float>(), *mp = m.data<float>();
  for (std::int64_t i = 0; i < y.numel(); ++i) yp[i] = bp[i] * mp[i % H] + ap[i] * (1 - mp[i % H]);
  return y;
}

}  // namespace subq::recurrent
