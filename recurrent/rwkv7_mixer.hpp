#pragma once
// Internal: RWKV-7's time mix as a layer, as fla's RWKV7Attention defines it, on x (batch,
// length, hidden) already layer-normed, with d = shift(x) - x and x_* = x + d * mu_*:
//   r, k, v = projections of x_r, x_k, x_v;  w = -e^-1/2 sigmoid(lora(x_w));  a = sigmoid(lora(x_a))
//   v mixed toward the first RWKV-7 layer's v by sigmoid(lora(x_v)) (in the layers after it)
//   kk = normalised k * k_k per head;  k *= 1 + (a - 1) k_a
//   o = wkv7(r, w, k, v, -kk, kk * a) (chunked for prompts, stepped for one token)
//   out = o_proj((group_norm(o) + (r . k r_k) v) * lora(x_g))
// float32, on the CPU or the weights' GPU.
#include <optional>
#include <string>
#include <vector>

#include "core/activation.hpp"
#include "core/checkpoint.hpp"
#include "core/mixer.hpp"
#include "core/tensor.hpp"
#include "recurrent/rwkv6_mixer.hpp"

namespace subq::recurrent {

struct Rwkv7MixerConfig {
  std::int64_t hidden, heads, head_dim, value_dim;  // value_dim: over all heads
  double eps;                                       // the group norm's is head_dim * eps, as fla's
  bool first;  // the first RWKV-7 layer of the stack: its values are the others' residual
  /// The LoRA ranks of w, v, a and g; 0 reads them from the checkpoint's tensors.
  std::int64_t w_rank = 0, v_rank = 0, a_rank = 0, g_rank = 0;
};

class Rwkv7TimeMix final : public Mixer {
 public:
  /// Takes <prefix>x_{r,w,k,v,a,g}, k_k, k_a, r_k, {r,k,v,o}_proj.weight, {w,a,g}_lora (and
  /// v_lora after the first layer), g_norm.{weight, bias}.
  static Rwkv7TimeMix load(Checkpoint& checkpoint, const std::string& prefix, const Rwkv7MixerConfig& config);

  /// x (batch, length, hidden) -> (batch, length, hidden); the state's slots are RwkvStateSlot's
  /// (recurrent/rwkv6_mixer.hpp). The first layer sets context.v_first to its values, the later
  /// ones read it.
  Tensor forward(const Tensor& x, MixerState* state, MixerContext& context) const override;

 private:
  // x -> up(activation(down(x))) + bias: the low-rank branches.
  struct LoRA {
    Tensor down, up, bias;
    Tensor operator()(const Tensor& x, std::optional<Activation> activation) const;
  };
  // (group_norm(o) + (r . k r_k) v) * g, in place in o.
  void add_bonus_and_gate(Tensor& o, const Tensor& r, const Tensor& k, const Tensor& v, const Tensor& g) const;

  Rwkv7MixerConfig config_{};
  Tensor x_r_, x_w_, x_k_, x_v_, x_a_, x_g_, k_k_, k_a_, r_k_, r_, k_, v_, o_, g_norm_weight_, g_norm_bias_;
  LoRA w_lora_, v_lora_, a_lora_, g_lora_;  // v_lora_: layers after the first
};

/// A hybrid stack's RWKV-7 layer, sized by the config's keys rwkv7_head_dim (64), rwkv7_value_dim
/// (hidden) and the LoRA ranks rwkv7_decay_low_rank_dim (32), rwkv7_v_low_rank_dim (32),
/// rwkv7_a_low_rank_dim (32) and rwkv7_gate_low_rank_dim (64). The stack's first RWKV-7 layer gives
/// the values the later ones mix toward.
std::unique_ptr<Mixer> make_rwkv7_mixer(Checkpoint& checkpoint, const MixerSite& site);

}  // namespace subq::recurrent
