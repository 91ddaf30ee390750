#pragma once
// Internal: RWKV-6's time mix as a layer, as fla's RWKV6Attention defines it, on x (batch, length,
// hidden) already layer-normed, with d = shift(x) - x:
//   m_{r,w,k,v,g} = x_proj2(tanh(x_proj1(x + d * mu))) + x_bias   (the data-dependent lerp)
//   r, k, v, g = projections of x + d * m_*;  w = -exp(lora(x + d * m_w))
//   out = o_proj(group_norm(wkv6(r, k, v, w, bonus)) * swish(g))
// Prefill runs WKV's chunked form, one token its recurrent form. float32, on the CPU or the weights' GPU.
#include <string>
#include <vector>

#include "core/checkpoint.hpp"
#include "core/mixer.hpp"
#include "core/tensor.hpp"

namespace subq::recurrent {

struct Rwkv6MixerConfig {
  std::int64_t hidden, heads, key_dim, value_dim, proj_rank, gate_rank;  // key_dim, value_dim: over all heads
  double eps;                                                            // of the output group norm
};

/// The slots of RWKV-6's and RWKV-7's time-mix states: the last input row (token shift), the WKV state.
enum RwkvStateSlot : std::size_t { kShiftState = 0, kWkvState = 1 };

class Rwkv6TimeMix final : public Mixer {
 public:
  /// Takes <prefix>x_proj.0.{mu, linear.weight}, x_proj.2.weight, x_bias, {r,k,v,g}_proj.linear.weight,
  /// w_proj.linear.lora.{0.weight, 2.weight, 2.bias}, bonus, g_norm.{weight, bias}, o_proj.weight.
  static Rwkv6TimeMix load(Checkpoint& checkpoint, const std::string& prefix, const Rwkv6MixerConfig& config);

  /// x (batch, length, hidden) -> (batch, length, hidden); the state's slots are RwkvStateSlot's.
  Tensor forward(const Tensor& x, MixerState* state, MixerContext& context) const override;

 private:
  // The five data-dependent lerp coefficients m_{r,w,k,v,g}, each (batch, length, hidden).
  std::vector<Tensor> lerp_coefficients(const Tensor& x, const Tensor& d) const;

  Rwkv6MixerConfig config_{};
  Tensor mu_, lerp_down_, lerp_up_, x_bias_;  // the data-dependent lerp: x_proj.0, x_proj.2, x_bias
  Tensor r_, w_down_, w_up_, w_bias_, k_, v_, g_, bonus_, g_norm_weight_, g_norm_bias_, o_;
};

/// A hybrid stack's RWKV-6 layer, sized by the config's keys rwkv6_num_heads (num_attention_heads),
/// key and value widths hidden * rwkv6_expand_k (0.5) and * rwkv6_expand_v (1), and the lerp and
/// decay LoRA ranks rwkv6_proj_low_rank_dim (32) and rwkv6_gate_low_rank_dim (64).
std::unique_ptr<Mixer> make_rwkv6_mixer(Checkpoint& checkpoint, const MixerSite& site);

}  // namespace subq::recurrent
