#pragma once
// Internal: gated linear attention as a layer, as fla's GatedLinearAttention defines it (its
// defaults: no short convolutions, no feature map, the swish output gate fused with the norm), on
// x (batch, length, hidden):
//   q, k, v = q_proj x, k_proj x, v_proj x;   gk = log sigmoid(gk_proj x) / gate_logit_normalizer
//   (gk_proj a low-rank pair: hidden -> rank, then rank -> key width with a bias)
//   o = gla(q, k, v, gk), scale d_k^-1/2
//   out = o_proj(rms_norm_per_head(o) * silu(g_proj x))
// Prefill and decoding carry the (batch, heads, d_k, d_v) state. float32, on the CPU or the
// weights' GPU.
#include <string>

#include "core/checkpoint.hpp"
#include "core/mixer.hpp"
#include "core/tensor.hpp"

namespace subq::recurrent {

struct GlaMixerConfig {
  std::int64_t hidden, heads, key_dim, value_dim, gate_rank;  // key_dim, value_dim: over all heads
  double gate_logit_normalizer, eps;
};

class GlaMixer final : public Mixer {
 public:
  /// Takes <prefix>{q,k,v,g,o}_proj.weight, gk_proj.0.weight, gk_proj.1.{weight,bias},
  /// g_norm_swish_gate.weight.
  static GlaMixer load(Checkpoint& checkpoint, const std::string& prefix, const GlaMixerConfig& config);

  /// x (batch, length, hidden) -> (batch, length, hidden); the state: GLA's.
  Tensor forward(const Tensor& x, MixerState* state, MixerContext& context) const override;

 private:
  GlaMixerConfig config_{};
  Tensor q_, k_, v_, g_, o_, gk_down_, gk_up_, gk_bias_, g_norm_;
};

/// The layer's sizes from a config's keys <key_prefix>num_heads (else num_attention_heads),
/// expand_k (0.5), expand_v (1), gate_low_rank_dim (16), gate_logit_normalizer (16): fla's config
/// keys with an empty prefix.
GlaMixerConfig read_gla_config(const JsonConfig& config, const std::string& key_prefix, std::int64_t hidden,
                               double eps);

/// A hybrid stack's GLA layer, sized by the config's keys gla_num_heads (num_attention_heads),
/// gla_expand_k (0.5), gla_expand_v (1), gla_gate_low_rank_dim (16), gla_gate_logit_normalizer (16).
std::unique_ptr<Mixer> make_gla_mixer(Checkpoint& checkpoint, const MixerSite& site);

}  // namespace subq::recurrent
