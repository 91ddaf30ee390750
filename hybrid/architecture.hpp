#pragma once
// Internal: what each family provides to LanguageModel. An architecture is loaded from a
// checkpoint (taking every tensor it uses) and maps token ids to logits through its cache.
#include <memory>

#include "core/checkpoint.hpp"
#include "hybrid/language_model.hpp"

namespace subq::hybrid {

class Architecture {
 public:
  virtual ~Architecture() = default;
  virtual std::int64_t vocab_size() const = 0;
  /// input_ids (batch, length) int64, validated -> logits (batch, length, vocab). With a cache, its
  /// layers (sized by the architecture on first use) are read and left after the last token;
  /// cache->position counts the tokens before these.
  virtual Tensor forward(const Tensor& input_ids, ModelCache* cache) const = 0;
};

/// The loaders, one per model_type, each in its family's folder.
std::unique_ptr<Architecture> load_mamba(Checkpoint& checkpoint);
std::unique_ptr<Architecture> load_mamba2(Checkpoint& checkpoint);
std::unique_ptr<Architecture> load_rwkv4(Checkpoint& checkpoint);
std::unique_ptr<Architecture> load_rwkv6(Checkpoint& checkpoint);
std::unique_ptr<Architecture> load_rwkv7(Checkpoint& checkpoint);
std::unique_ptr<Architecture> load_retnet(Checkpoint& checkpoint);
std::unique_ptr<Architecture> load_jamba(Checkpoint& checkpoint);

/// The cache's state for layer i, with `slots` tensors per layer (allocated empty on first use).
inline std::vector<Tensor>* layer_cache(ModelCache* cache, std::size_t layers, std::size_t i, std::size_t slots) {
  if (!cache) return nullptr;
  if (cache->empty()) cache->layers.assign(layers, std::vector<Tensor>(slots));
  return &cache->layers[i];
}

/// The language-model head: lm_head's weight, or the embeddings when tied (as transformers ties
/// them after loading, even when the file also holds the head, which is then taken and unused).
Tensor output_head(Checkpoint& checkpoint, const std::string& name, const Tensor& embeddings, bool tied);

}  // namespace subq::hybrid
