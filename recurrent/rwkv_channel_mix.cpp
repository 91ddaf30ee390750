#include "recurrent/rwkv_channel_mix.hpp"

#include "core/dense.hpp"
#include "core/elementwise.hpp"
#include "recurrent/token_shift.hpp"

namespace subq::recurrent {

Tensor RwkvChannelMix::forward(const Tensor& x, MixerState* state) const {
  Tensor* carried = state ? &(*state)[0] : nullptr;
  if (form == Form::Rwkv4) {
    const Tensor s = token_shift(x, carried);
    const Tensor k = activate(linear(lerp(s, x, mix_k), key), Activation::ReluSquare);
    const Tensor r = activate(linear(lerp(s, x, mix_r), receptance), Activation::Sigmoid);
    return multiply(r, linear(k, value));
  }
  const Tensor d = token_delta(x, carried);
  const Tensor k = activate(linear(add_scaled(x, d, mix_k), key), Activation::ReluSquare);
  Tensor out = linear(k, value);
  if (!receptance.defined()) return out;
  const Tensor r = activate(linear(add_scaled(x, d, mix_r), receptance), Activation::Sigmoid);
  return multiply(out, r);
}

}  // namespace subq::recurrent
