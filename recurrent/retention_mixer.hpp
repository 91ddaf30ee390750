#pragma once
// Internal: RetNet's multi-scale retention as a layer, as fla's MultiScaleRetention defines it,
// on x (batch, length, hidden):
//   o = o_proj(rms_norm_per_head(retention(rotary(q_proj(x)), rotary(k_proj(x)), v_proj(x))) * swish(g_proj(x)))
// with rotary positions counted from the cache's position. Prefill runs the chunkwise form;
// decoding carries the (batch, heads, d_v, d_k) state. float32, on the CPU or the weights' GPU.
#include <string>
#include <vector>

#include "core/checkpoint.hpp"
#include "core/mixer.hpp"
#include "core/tensor.hpp"

namespace subq::recurrent {

struct RetentionMixerConfig {
  std::int64_t hidden, heads, key_dim, value_dim;  // key_dim, value_dim: over all heads
  double eps;                                      // of the per-head RMSNorm
  bool output_gate;
};

class RetentionMixer final : public Mixer {
 public:
  /// Takes <prefix>q_proj.weight, k_proj.weight, v_proj.weight, g_proj.weight (with the output
  /// gate), g_norm.weight, o_proj.weight.
  static RetentionMixer load(Checkpoint& checkpoint, const std::string& prefix, const RetentionMixerConfig& config);

  /// x (batch, length, hidden) -> (batch, length, hidden), rotary positions counted from
  /// context.position; the state: the retention state.
  Tensor forward(const Tensor& x, MixerState* state, MixerContext& context) const override;

 private:
  RetentionMixerConfig config_{};
  Tensor q_, k_, v_, g_, g_norm_, o_;
};

/// A hybrid stack's RetNet layer with the swish output gate, sized by the config's keys
/// retention_num_heads (num_attention_heads), and key and value widths hidden * retention_expand_k
/// (1) and * retention_expand_v (2).
std::unique_ptr<Mixer> make_retention_mixer(Checkpoint& checkpoint, const MixerSite& site);

}  // namespace subq::recurrent
