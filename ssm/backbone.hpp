#pragma once
// Internal: the pre-norm residual language model around a stack of mixers, shared by the
// Hugging Face Mamba and Mamba-2 checkpoints:
//   h = embeddings[ids];  for each layer: h = h + mixer(rms_norm(h));  logits = lm_head(rms_norm(h))
#include <memory>
#include <string>
#include <vector>

#include "core/checkpoint.hpp"
#include "core/tensor.hpp"
#include "ssm/ssm_model.hpp"

namespace subq::ssm {

/// The layers' token mixers of one architecture.
class Mixers {
 public:
  virtual ~Mixers() = default;
  /// h (batch, length, hidden) -> (batch, length, hidden); with a cache, starts from its state
  /// for the layer (undefined tensors: zeros) and leaves the state after the last token there.
  virtual Tensor mix(int layer, const Tensor& h, SsmCache* cache) const = 0;
};

struct BackboneSizes {
  std::int64_t vocab, hidden, layers;
  double eps;
  bool tie_embeddings;
};

/// The mixers and sizes a checkpoint of one architecture describes, with their tensors taken.
struct LoadedMixers {
  std::unique_ptr<Mixers> mixers;
  BackboneSizes sizes;
};
LoadedMixers load_mamba_mixers(Checkpoint& checkpoint);
LoadedMixers load_mamba2_mixers(Checkpoint& checkpoint);

class Backbone {
 public:
  /// Takes backbone.embeddings.weight, backbone.layers.{i}.norm.weight, backbone.norm_f.weight and
  /// lm_head.weight (not used when tied: the head is then the embeddings).
  static Backbone load(Checkpoint& checkpoint, const BackboneSizes& sizes);

  /// input_ids (batch, length) int64 -> logits (batch, length, vocab) float32.
  Tensor forward(const Tensor& input_ids, const Mixers& mixers, SsmCache* cache) const;

  const BackboneSizes& sizes() const { return sizes_; }

 private:
  BackboneSizes sizes_{};
  Tensor embeddings_, norm_f_, lm_head_;
  std::vector<Tensor> norms_;
};

/// "backbone.layers.<layer>.mixer.<name>".
std::string mixer_tensor(int layer, const std::string& name);

}  // namespace subq::ssm
