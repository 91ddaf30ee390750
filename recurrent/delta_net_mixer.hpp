#pragma once
// Internal: DeltaNet's and Gated DeltaNet's layers, as fla's DeltaNet and GatedDeltaNet define
// them (their defaults: short convolutions, SiLU and L2-normalised q and k), on x (batch, length,
// hidden):
//   q, k, v = silu(short_conv(q_proj x)), silu(short_conv(k_proj x)), silu(short_conv(v_proj x))
//   beta = sigmoid(b_proj x) (times 2 with allow_neg_eigval)
//   gated: g = -exp(A_log) softplus(a_proj x + dt_bias), a log-decay per head and step
//   o = delta_rule(q, k, v, beta, g), scale d_k^-1/2, q and k L2-normalised
//   out = o_proj(rms_norm_per_head(o) * silu(g_proj x))   (with the output gate; else no gate)
// Gated DeltaNet's value heads may outnumber its query/key heads (grouped values): value head j
// reads query/key head j / (v_heads / heads). Prefill and decoding both carry the three
// convolutions' inputs and the (batch, v_heads, d_k, d_v) state. float32, on the CPU or the
// weights' GPU.
#include <string>

#include "core/checkpoint.hpp"
#include "core/mixer.hpp"
#include "core/tensor.hpp"

namespace subq::recurrent {

struct DeltaNetMixerConfig {
  std::int64_t hidden, heads, v_heads, head_k, head_v;  // heads of q and k; v_heads of v (= heads ungated)
  std::int64_t conv_size;
  double eps;             // of the output norm
  bool gated;             // Gated DeltaNet: a_proj, A_log, dt_bias
  bool output_gate;       // g_proj and the gated norm (fla's use_gate)
  bool allow_neg_eigval;  // beta in (0, 2)
};

class DeltaNetMixer final : public Mixer {
 public:
  /// Takes <prefix>{q,k,v,b,o}_proj.weight, {q,k,v}_conv1d.weight, o_norm.weight; gated also
  /// a_proj.weight, A_log, dt_bias; with the output gate g_proj.weight.
  static DeltaNetMixer load(Checkpoint& checkpoint, const std::string& prefix, const DeltaNetMixerConfig& config);

  /// x (batch, length, hidden) -> (batch, length, hidden); the state: the three convolutions'
  /// last inputs and the delta rule's state.
  Tensor forward(const Tensor& x, MixerState* state, MixerContext& context) const override;

 private:
  DeltaNetMixerConfig config_{};
  Tensor q_, k_, v_, a_, b_, g_, o_, q_conv_, k_conv_, v_conv_, A_log_, dt_bias_, o_norm_;
};

/// The layer's sizes from a config's keys <key_prefix>num_heads (else num_attention_heads),
/// conv_size (4), use_gate (gated), allow_neg_eigval (false), and for DeltaNet expand_k (1) and
/// expand_v (1) of the hidden size, for Gated DeltaNet head_dim (hidden / heads), expand_v (2) of
/// it and num_v_heads (the heads): fla's config keys with an empty prefix.
DeltaNetMixerConfig read_delta_net_config(const JsonConfig& config, const std::string& key_prefix, std::int64_t hidden,
                                          double eps, bool gated);

/// A hybrid stack's DeltaNet layer, sized by the config's keys delta_net_num_heads
/// (num_attention_heads), delta_net_expand_k (1), delta_net_expand_v (1), delta_net_conv_size (4),
/// delta_net_use_gate (false), delta_net_allow_neg_eigval (false).
std::unique_ptr<Mixer> make_delta_net_mixer(Checkpoint& checkpoint, const MixerSite& site);

/// A hybrid stack's Gated DeltaNet layer, sized by the config's keys gated_deltanet_num_heads
/// (num_attention_heads), gated_deltanet_head_dim (hidden / heads), gated_deltanet_expand_v (2),
/// gated_deltanet_num_v_heads (the heads), gated_deltanet_conv_size (4), gated_deltanet_use_gate
/// (true), gated_deltanet_allow_neg_eigval (false).
std::unique_ptr<Mixer> make_gated_deltanet_mixer(Checkpoint& checkpoint, const MixerSite& site);

}  // namespace subq::recurrent
