#pragma once
// Internal: the layout fla's RetNet, GLA, DeltaNet and Gated DeltaNet models share. Each layer, on
// h (batch, length, hidden), with RMSNorms:
//   h += mixer(attn_norm(h))                                    model.layers.{i}.attn.*
//   h += down_proj(swish(gate_proj(x)) * up_proj(x)),  x = mlp_norm(h)    model.layers.{i}.mlp.*
// between model.embeddings and model.norm, then lm_head. The families differ in their mixer.
#include <functional>
#include <memory>
#include <string>

#include "lm/stack.hpp"

namespace subq::lm {

struct FlaSizes {
  std::int64_t vocab, hidden, mlp, layers;
  double eps;
  bool tie_embeddings;
};

/// The sizes the families' configs give (vocab_size, hidden_size, intermediate_size or
/// hidden_ratio, num_hidden_layers, norm_eps, tie_word_embeddings (false)), after the checks they share: no hybrid
/// attention layers (attn), the swish MLP (hidden_act).
FlaSizes read_fla_sizes(const JsonConfig& config);

/// The stack, each layer's mixer made from the prefix of its tensors ("model.layers.{i}.attn.").
Stack fla_stack(Checkpoint& checkpoint, const FlaSizes& sizes,
                const std::function<std::unique_ptr<Mixer>(const std::string& prefix)>& make_mixer);

/// Throws "<config>: <key>: <what> is not supported" when `unsupported`.
void refuse_fla_option(const JsonConfig& config, const char* key, bool unsupported, const char* what);

}  // namespace subq::lm
