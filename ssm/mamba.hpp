#pragma once
// Mamba language models from Hugging Face MambaForCausalLM checkpoints (config.json +
// model.safetensors). Each layer's mixer, on h (batch, length, hidden):
//   x, z  = in_proj(h)                                  (batch, length, intermediate) each
//   x     = silu(causal_conv1d(x))                      depthwise, conv_kernel wide
//   dt, B, C = x_proj(x)                                 time_step_rank, state_size, state_size
//   y     = selective_scan(x, dt_proj(dt), -exp(A_log), B, C, D, z, softplus)
//   out   = out_proj(y)
// Runs on the CPU in float32.
#include <filesystem>
#include <memory>

#include "../core/tensor.hpp"
#include "ssm_cache.hpp"

namespace subq::ssm {

struct MambaConfig {
  std::int64_t vocab_size, hidden_size, intermediate_size, state_size, conv_kernel, time_step_rank, num_layers;
  double layer_norm_epsilon;
  bool use_bias, use_conv_bias, tie_word_embeddings;
};

class MambaModel {
 public:
  /// Reads dir/config.json and the weights; a tensor missing, of the wrong shape, or left over
  /// is an error naming it.
  static MambaModel load(const std::filesystem::path& dir);
  ~MambaModel();
  MambaModel(MambaModel&&) noexcept;
  MambaModel& operator=(MambaModel&&) noexcept;

  const MambaConfig& config() const;

  /// input_ids (batch, length) int64 -> logits (batch, length, vocab) float32. With a cache, the
  /// tokens continue the sequences it holds (an empty cache starts them), and the cache is left
  /// holding the state after the last token.
  Tensor forward(const Tensor& input_ids, SsmCache* cache = nullptr) const;
  /// One decoding step from the cache: input_ids (batch) -> logits (batch, vocab).
  Tensor step(const Tensor& input_ids, SsmCache& cache) const;

 private:
  struct Impl;
  explicit MambaModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace subq::ssm
