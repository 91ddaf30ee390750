#include "recurrent/fla_rwkv.hpp"

namespace subq::recurrent {

Tensor RwkvChannelMix::forward(const Tensor& x, Tensor* shift) const {
  const Tensor d = token_delta(x, shift);
  const Tensor k = activate(linear(add_scaled(x, d, mu_k), key), Activation::ReluSquare);
  Tensor out = linear(k, value);
  if (!receptance.defined()) return out;
  const Tensor r = activate(linear(add_scaled(x, d, mu_r), receptance), Activation::Sigmoid);
  return multiply(out, r);
}

}  // namespace subq::recurrent
