#include "recurrent/fla_rwkv.hpp"

#include "core/math.hpp"

namespace subq::recurrent {

Tensor RwkvChannelMix::forward(const Tensor& x, Tensor* shift) const {
  const Tensor d = token_delta(x, shift);
  const Tensor k = map_elements(linear(add_scaled(x, d, mu_k), key), [](float z) { return z > 0 ? z * z : 0.0f; });
  Tensor out = linear(k, value);
  if (!receptance.defined()) return out;
  const Tensor r = map_elements(linear(add_scaled(x, d, mu_r), receptance), [](float z) { return sigmoid(z); });
  return multiply(out, r);
}

}  // namespace subq::recurrent
