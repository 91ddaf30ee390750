#pragma once
// Internal: RWKV-4's time mix as a layer, as transformers' RwkvSelfAttention defines it, on x
// (batch, length, hidden) already layer-normed, with s = x shifted one step back:
//   k, v = key/value(x*mix + s*(1-mix));  r = sigmoid(receptance(...))
//   out = output(r * wkv4(time_decay, time_first, k, v))
// float32, on the CPU or the weights' GPU.
#include <string>
#include <vector>

#include "core/checkpoint.hpp"
#include "core/mixer.hpp"
#include "core/tensor.hpp"

namespace subq::recurrent {

struct Rwkv4MixerConfig {
  std::int64_t hidden, attention_hidden;
  float output_scale = 1;  // transformers' rescale_every scales the output projection down
};

class Rwkv4TimeMix final : public Mixer {
 public:
  /// Takes <prefix>time_mix_{key, value, receptance}, time_decay, time_first,
  /// {key, value, receptance, output}.weight.
  static Rwkv4TimeMix load(Checkpoint& checkpoint, const std::string& prefix, const Rwkv4MixerConfig& config);

  /// x (batch, length, hidden) -> (batch, length, hidden); the state: the last input row, then
  /// WKV-4's running sums and their exponent.
  Tensor forward(const Tensor& x, MixerState* state, MixerContext& context) const override;

 private:
  Tensor mix_k_, mix_v_, mix_r_, time_decay_, time_first_, key_, value_, receptance_, output_;
};

/// A hybrid stack's RWKV-4 layer, rwkv4_attention_hidden (hidden) wide inside.
std::unique_ptr<Mixer> make_rwkv4_mixer(Checkpoint& checkpoint, const MixerSite& site);

}  // namespace subq::recurrent
