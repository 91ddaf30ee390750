#pragma once
// Internal: RWKV-4's time mix as a layer, as transformers' RwkvSelfAttention defines it, on x
// (batch, length, hidden) already layer-normed, with s = x shifted one step back:
//   k, v = key/value(x*mix + s*(1-mix));  r = sigmoid(receptance(...))
//   out = output(r * wkv4(time_decay, time_first, k, v))
// CPU, float32.
#include <string>
#include <vector>

#include "core/checkpoint.hpp"
#include "core/tensor.hpp"

namespace subq::recurrent {

struct Rwkv4MixerConfig {
  std::int64_t hidden, attention_hidden;
  float output_scale = 1;  // transformers' rescale_every scales the output projection down
};

/// The time mix's slots in a layer's cache: the last input row, then WKV-4's running sums and
/// their exponent.
enum Rwkv4MixerState : std::size_t { kRwkv4Shift = 0, kRwkv4Num, kRwkv4Den, kRwkv4Max, kRwkv4MixerStates };

class Rwkv4TimeMix {
 public:
  /// Takes <prefix>time_mix_{key, value, receptance}, time_decay, time_first,
  /// {key, value, receptance, output}.weight.
  static Rwkv4TimeMix load(Checkpoint& checkpoint, const std::string& prefix, const Rwkv4MixerConfig& config);

  /// x (batch, length, hidden) -> (batch, length, hidden). With a state (slots as
  /// Rwkv4MixerState numbers them; undefined: empty), starts from it and leaves the state after
  /// the last token there.
  Tensor forward(const Tensor& x, std::vector<Tensor>* state) const;

 private:
  Tensor mix_k_, mix_v_, mix_r_, time_decay_, time_first_, key_, value_, receptance_, output_;
};

}  // namespace subq::recurrent
