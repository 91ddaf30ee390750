#pragma once
// Internal: the hybrid stack, any sequence of the library's mixers in pre-norm residual layers,
// each with a SwiGLU MLP or a sparse mixture of SwiGLU experts as its feed-forward (Jamba's
// layer). model_type "subq_hybrid" names one mixer letter per layer (lm/hybrid_stack.cpp);
// Hugging Face Jamba places attention and Mamba by periods (lm/jamba.cpp).
#include <span>
#include <string>

#include "core/mixer.hpp"
#include "lm/stack.hpp"

namespace subq::lm {

/// A mixer the stack takes: its layer letter, its name, the prefix of its tensors within a layer
/// (model.layers.{i}.<prefix>) and its factory, which reads its own config keys.
struct MixerKind {
  char letter;
  const char* name;
  const char* prefix;
  MixerFactory make;
};

/// Every mixer of the hybrid stack, one row each.
std::span<const MixerKind> mixer_kinds();

/// The stack that `mixers` (a mixer letter per layer) and `feed_forwards` ('D' for a dense MLP,
/// 'E' for experts, per layer) describe, its sizes from the checkpoint's config:
///   model.embed_tokens, model.layers.{i}.{input_layernorm, <mixer prefix>*, pre_ff_layernorm,
///   feed_forward.*}, model.final_layernorm, lm_head
/// Each layer: h += mixer(input_layernorm(h));  h += feed_forward(pre_ff_layernorm(h)).
Stack hybrid_stack(Checkpoint& checkpoint, const std::string& mixers, const std::string& feed_forwards);

}  // namespace subq::lm
