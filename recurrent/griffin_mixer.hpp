#pragma once
// Internal: Griffin's recurrent block (De et al. 2024), as recurrentgemma's torch RecurrentBlock
// defines it, on x (batch, length, hidden):
//   y = gelu_tanh(linear_y x)
//   u = rg_lru(conv_1d(linear_x x))          (recurrent/rglru.hpp; conv_1d a causal depthwise
//                                             convolution of temporal_width steps, with a bias)
//   out = linear_out(u * y)
// every linear with a bias, the recurrence lru_width wide in `heads` gate blocks. A sequence's
// first token (position 0) resets the RG-LRU, as Griffin's segment positions do. Decoding carries
// the convolution's last inputs and the RG-LRU state. float32, on the CPU or the weights' GPU.
#include <string>

#include "core/checkpoint.hpp"
#include "core/mixer.hpp"
#include "core/tensor.hpp"
#include "recurrent/rglru.hpp"

namespace subq::recurrent {

struct GriffinMixerConfig {
  std::int64_t hidden, lru_width, heads, conv_width;
  RgLruNames names = RgLruNames::Recurrentgemma;  // transformers' also name the convolution as torch's Conv1d
};

class GriffinMixer final : public Mixer {
 public:
  /// Takes <prefix>linear_{x,y,out}.{weight,bias}, conv_1d.{w,b} (w (temporal_width, lru_width);
  /// transformers': conv_1d.{weight,bias}, weight (lru_width, 1, temporal_width)) and rg_lru.*
  /// (RgLru::load).
  static GriffinMixer load(Checkpoint& checkpoint, const std::string& prefix, const GriffinMixerConfig& config);

  /// x (batch, length, hidden) -> (batch, length, hidden); the state: the convolution's inputs and
  /// the RG-LRU's h.
  Tensor forward(const Tensor& x, MixerState* state, MixerContext& context) const override;
  /// Packed sequences without padding: the convolution does not reach across a boundary
  /// (causal_conv1d_packed) and the RG-LRU resets where each sequence starts (its scan's a = 0).
  Tensor forward_packed(const Tensor& x, const Packing& packing, MixerContext& context) const override;

 private:
  GriffinMixerConfig config_{};
  Tensor x_, x_bias_, y_, y_bias_, out_, out_bias_, conv_, conv_bias_;
  RgLru rg_lru_;
};

/// A hybrid stack's Griffin recurrent block, sized by the config's keys griffin_lru_width
/// (hidden), griffin_num_heads (num_attention_heads), griffin_conv1d_width (4).
std::unique_ptr<Mixer> make_griffin_mixer(Checkpoint& checkpoint, const MixerSite& site);

}  // namespace subq::recurrent
