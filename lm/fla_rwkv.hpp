#pragma once
// Internal: the layout fla's RWKV6ForCausalLM and RWKV7ForCausalLM share. Each layer, on h
// (batch, length, hidden), with LayerNorms (biased when norm_bias):
//   h = pre_norm(h)                     layer 0 only, with norm_first
//   h += time_mix(attn_norm(h))         model.layers.{i}.attn.*
//   h += channel_mix(ffn_norm(h))       model.layers.{i}.ffn.* (recurrent/rwkv_channel_mix.hpp)
// between model.embeddings and model.norm, then lm_head. The families differ in their time mix and
// in their channel mix's tensors, which their loaders make.
#include <functional>
#include <memory>
#include <string>

#include "lm/stack.hpp"
#include "recurrent/rwkv_channel_mix.hpp"

namespace subq::lm {

struct FlaRwkvSizes {
  std::int64_t vocab, hidden, layers;
  double eps;
  bool norm_bias, norm_first, tie_embeddings;
};

/// layer, the prefix of its tensors ("model.layers.{i}.attn." or "....ffn.") -> its time mix or channel mix.
using MakeTimeMix = std::function<std::unique_ptr<Mixer>(std::int64_t layer, const std::string& prefix)>;
using MakeChannelMix = std::function<recurrent::RwkvChannelMix(std::int64_t layer, const std::string& prefix)>;

Stack fla_rwkv_stack(Checkpoint& checkpoint, const FlaRwkvSizes& sizes, const MakeTimeMix& make_time_mix,
                     const MakeChannelMix& make_channel_mix);

/// The sizes both families' configs give (vocab_size, hidden_size, num_hidden_layers, norm_eps
/// (1e-5), norm_bias, norm_first, tie_word_embeddings), after the checks they share: no hybrid
/// attention layers, the sqrelu channel mix.
FlaRwkvSizes read_fla_rwkv_sizes(const JsonConfig& config);

}  // namespace subq::lm
