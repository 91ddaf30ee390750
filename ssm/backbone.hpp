#pragma once
// Internal: the pre-norm residual language model around a stack of mixers, shared by the
// Hugging Face Mamba and Mamba-2 checkpoints:
//   h = embeddings[ids];  for each layer: h = h + mixer(rms_norm(h));  logits = lm_head(rms_norm(h))
#include <memory>
#include <string>
#include <vector>

#include "core/checkpoint.hpp"
#include "core/tensor.hpp"
#include "hybrid/architecture.hpp"
#include "ssm/mamba_mixer.hpp"

namespace subq::ssm {

/// The layers' token mixers of one architecture.
class Mixers {
 public:
  virtual ~Mixers() = default;
  /// h (batch, length, hidden) -> (batch, length, hidden). With a state ({conv, scan}; undefined
  /// tensors: zeros), starts from it and leaves the state after the last token there.
  virtual Tensor mix(int layer, const Tensor& h, std::vector<Tensor>* state) const = 0;
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

/// The language model around the mixers: takes backbone.embeddings.weight,
/// backbone.layers.{i}.norm.weight, backbone.norm_f.weight and lm_head.weight.
std::unique_ptr<hybrid::Architecture> backbone_architecture(Checkpoint& checkpoint, LoadedMixers mixers);

/// "backbone.layers.<layer>.mixer.<name>".
std::string mixer_tensor(int layer, const std::string& name);

}  // namespace subq::ssm
