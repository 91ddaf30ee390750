#pragma once
// Internal: causal grouped-query attention as a mixer layer, as Jamba's attention defines it, on
// x (batch, length, hidden):
//   q, k, v = q_proj(x), k_proj(x), v_proj(x)      heads x d, kv_heads x d, kv_heads x d
//   q, k    = rotary(q), rotary(k)                 only with rope_theta > 0 (Jamba has none)
//   out     = o_proj(causal_attention(q, cached k, cached v, 1 / sqrt(d)))
// optionally over a sliding window of W keys (local attention, as Griffin's and Mistral's). The
// state is the KV cache: keys and values of every token so far, in buffers that double when full;
// with a window only the last W - 1 (up to 2 (W - 1) between compactions, which come every W - 1
// tokens or so when decoding), so that decoding memory stays constant.
#include <string>

#include "core/checkpoint.hpp"
#include "core/mixer.hpp"
#include "core/tensor.hpp"

namespace subq::attention {

struct AttentionMixerConfig {
  std::int64_t hidden, heads, kv_heads;  // heads of hidden / heads; kv_heads divides heads
  double rope_theta = 0;                 // > 0: rotary positions on q and k with this base
  std::int64_t window = 0;               // > 0: each query sees the last `window` keys, itself included
  std::int64_t rotary_dims = 0;          // with rope_theta: the leading dims of each head turned (0: all)
  bool output_bias = false;              // o_proj.bias (RecurrentGemma's)
};

class AttentionMixer final : public Mixer {
 public:
  /// Takes <prefix>{q,k,v,o}_proj.weight (and o_proj.bias with output_bias). On CUDA the head size
  /// must be one the kernel takes.
  static AttentionMixer load(Checkpoint& checkpoint, const std::string& prefix, const AttentionMixerConfig& config);

  /// x (batch, length, hidden) -> (batch, length, hidden); the state: keys, values, and how many
  /// of each the buffers hold.
  Tensor forward(const Tensor& x, MixerState* state, MixerContext& context) const override;
  /// Packed sequences without padding: the projections over all the packed tokens, then each
  /// sequence's attention over its own keys only (rotary positions from 0 in each), one call each.
  Tensor forward_packed(const Tensor& x, const Packing& packing, MixerContext& context) const override;

 private:
  AttentionMixerConfig config_{};
  Tensor q_, k_, v_, o_, o_bias_;
};

/// A hybrid stack's attention layer, sized by the config's keys num_attention_heads and
/// num_key_value_heads (num_attention_heads), with rotary positions when rope_theta (0) is > 0.
std::unique_ptr<Mixer> make_attention_mixer(Checkpoint& checkpoint, const MixerSite& site);

/// A hybrid stack's local attention layer: the same, each query seeing the last
/// local_attention_window (2048, Griffin's) keys.
std::unique_ptr<Mixer> make_local_attention_mixer(Checkpoint& checkpoint, const MixerSite& site);

}  // namespace subq::attention
