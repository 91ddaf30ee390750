#include "recurrent/token_shift.hpp"

#include "core/check.hpp"
#include "recurrent/token_shift_cuda.hpp"

namespace subq::recurrent {

namespace {

// x shifted one step back in time (minus x when delta), the carried row or zeros first.
Tensor shifted(const Tensor& x_in, Tensor* carried, bool delta) {
  const Tensor x = x_in.contiguous(), first = carried && carried->defined() ? carried->contiguous() : Tensor{};
  check_float32_operands("token_shift", x, {{"carried", &first}});
  const std::int64_t B = x.size(0), L = x.size(1), H = x.size(2);
  if (first.defined()) check_shape("token_shift", "carried", first, {B, H});
  Tensor s = Tensor::empty(x.shape(), DType::F32, x.device());
  const float* f = first.defined() ? first.data<float>() : nullptr;
  if (x.device().is_cuda()) {
    launch_on_cuda("token_shift", x.device(),
                   [&] { return detail::launch_token_shift(s.data<float>(), x.data<float>(), f, B, L, H, delta); });
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

}  // namespace subq::recurrent
