#pragma once
// Language models built from Mamba or Mamba-2 layers, loaded from Hugging Face checkpoints
// (MambaForCausalLM, Mamba2ForCausalLM: config.json + model.safetensors or shards). The
// architecture comes from config.json's model_type. Runs on the CPU in float32.
//
// Both carry a constant-size state between calls (SsmCache), so a prompt runs in parallel and
// generation then continues one token at a time at the same cost per token.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "../core/tensor.hpp"

namespace subq::ssm {

struct SsmCache {
  /// Per layer, (batch, channels, conv_kernel - 1): the last inputs of the short convolution.
  std::vector<Tensor> conv;
  /// Per layer, the scan state: (batch, intermediate, N) for Mamba, (batch, heads, P, N) for Mamba-2.
  std::vector<Tensor> ssm;

  /// True before the first call: the model starts from zeros and fills the cache.
  bool empty() const { return conv.empty(); }
};

class SsmModel {
 public:
  /// Reads dir/config.json (model_type "mamba" or "mamba2") and the weights; a tensor that is
  /// missing, of the wrong shape, or left over is an error naming it.
  static SsmModel load(const std::filesystem::path& dir);
  ~SsmModel();
  SsmModel(SsmModel&&) noexcept;
  SsmModel& operator=(SsmModel&&) noexcept;

  /// "mamba" or "mamba2".
  const std::string& architecture() const;
  std::int64_t vocab_size() const;

  /// input_ids (batch, length) int64 -> logits (batch, length, vocab) float32. With a cache, the
  /// tokens continue the sequences it holds (an empty cache starts them), and the cache is left
  /// holding the state after the last token.
  Tensor forward(const Tensor& input_ids, SsmCache* cache = nullptr) const;
  /// One decoding step from the cache: input_ids (batch) -> logits (batch, vocab).
  Tensor step(const Tensor& input_ids, SsmCache& cache) const;

 private:
  struct Impl;
  explicit SsmModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace subq::ssm
