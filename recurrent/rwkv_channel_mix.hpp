#pragma once
// Internal: RWKV's channel mix, the feed-forward of its layers, on x (batch, length, hidden)
// already layer-normed, with s = x shifted one step back in time (the carried last row first):
//   fla (RWKV-6, RWKV-7)   x_k = x + (s - x) * mix_k
//                          out = value(relu(key(x_k))^2) [* sigmoid(receptance(x + (s - x) * mix_r)), RWKV-6]
//   RWKV-4 (transformers)  x_k = x * mix_k + s * (1 - mix_k)
//                          out = sigmoid(receptance(x * mix_r + s * (1 - mix_r))) * value(relu(key(x_k))^2)
// The two forms of the token-shift mix round differently, so each is kept as its reference has it.
#include "core/mixer.hpp"
#include "core/tensor.hpp"

namespace subq::recurrent {

struct RwkvChannelMix {
  enum class Form { Fla, Rwkv4 };
  Form form = Form::Fla;
  Tensor mix_k, key, value;  // mix_k (hidden) for fla, (1, 1, hidden) for RWKV-4; key (F, hidden); value (hidden, F)
  Tensor mix_r, receptance;  // undefined for RWKV-7, which has no receptance

  /// x (batch, length, hidden) -> (batch, length, hidden); the state: the last input row.
  Tensor forward(const Tensor& x, MixerState* state) const;
};

}  // namespace subq::recurrent
