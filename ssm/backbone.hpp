#pragma once
// Internal: the pre-norm residual language model around a stack of mixers, shared by the
// Hugging Face Mamba and Mamba-2 checkpoints:
//   h = embeddings[ids];  for each layer: h = h + mixer(rms_norm(h));  logits = lm_head(rms_norm(h))
#include <functional>
#include <string>
#include <vector>

#include "core/checkpoint.hpp"
#include "core/tensor.hpp"

namespace subq::ssm {

class Backbone {
 public:
  struct Sizes {
    std::int64_t vocab, hidden, layers;
    double eps;
    bool tie_embeddings;
  };
  /// Takes backbone.embeddings.weight, backbone.layers.{i}.norm.weight, backbone.norm_f.weight and
  /// lm_head.weight (not used when tied: the head is then the embeddings).
  static Backbone load(Checkpoint& checkpoint, const Sizes& sizes);

  using Mixer = std::function<Tensor(int layer, const Tensor& normed)>;  // (batch, length, hidden)
  /// input_ids (batch, length) int64 -> logits (batch, length, vocab) float32.
  Tensor forward(const Tensor& input_ids, const Mixer& mixer) const;

  const Sizes& sizes() const { return sizes_; }

 private:
  Sizes sizes_{};
  Tensor embeddings_, norm_f_, lm_head_;
  std::vector<Tensor> norms_;
};

/// "backbone.layers.<layer>.<name>".
std::string layer_tensor(int layer, const std::string& name);

}  // namespace subq::ssm
