#pragma once
// Internal: BASED's linear attention as a layer (fla's BasedLinearAttention, after zoology's), on x
// (batch, length, hidden):
//   q, k = q_proj x, k_proj x     heads x feature_dim
//   v    = v_proj x               heads x head_dim (head_dim = hidden / heads)
//   o    = normalised linear attention over the Taylor features of q and k, scale feature_dim^-1/2
//          (recurrent/based.hpp), o_proj(o)
// fla's layer rearranges q and k by head_dim, which matches its heads only when feature_dim =
// head_dim; this is the layer as the paper and zoology define it, with fla's tensor names. A
// BASED model pairs it with sliding-window attention layers (the hybrid letter O). Decoding
// carries the (batch, heads, features, head_dim) state and its normaliser. float32, on the CPU or
// the weights' GPU.
#include <string>

#include "core/checkpoint.hpp"
#include "core/mixer.hpp"
#include "core/tensor.hpp"

namespace subq::recurrent {

struct BasedMixerConfig {
  std::int64_t hidden, heads, feature_dim;
};

class BasedMixer final : public Mixer {
 public:
  /// Takes <prefix>{q,k,v,o}_proj.weight.
  static BasedMixer load(Checkpoint& checkpoint, const std::string& prefix, const BasedMixerConfig& config);

  /// x (batch, length, hidden) -> (batch, length, hidden); the state: the linear attention's state
  /// and normaliser over the Taylor features.
  Tensor forward(const Tensor& x, MixerState* state, MixerContext& context) const override;

 private:
  BasedMixerConfig config_{};
  Tensor q_, k_, v_, o_;
};

/// A hybrid stack's BASED layer, sized by the config's keys based_num_heads (num_attention_heads)
/// and based_feature_dim (16).
std::unique_ptr<Mixer> make_based_mixer(Checkpoint& checkpoint, const MixerSite& site);

}  // namespace subq::recurrent
