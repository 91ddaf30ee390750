#pragma once
// Mamba-2 language models from Hugging Face Mamba2ForCausalLM checkpoints (config.json +
// model.safetensors). Each layer's mixer, on h (batch, length, hidden):
//   gate, xBC, dt = in_proj(h)               intermediate, intermediate + 2 * groups * N, heads
//   x, B, C      = silu(causal_conv1d(xBC))  x as (heads, head_dim), B and C as (groups, N)
//   dt           = clamp(softplus(dt + dt_bias), time_step_limit)
//   y            = ssd(x * dt, -exp(A_log) * dt, B, C) + D * x
//   out          = out_proj(rms_norm(y * silu(gate)))
// Runs on the CPU in float32.
#include <filesystem>
#include <memory>

#include "../core/tensor.hpp"
#include "ssm_cache.hpp"

namespace subq::ssm {

struct Mamba2Config {
  std::int64_t vocab_size, hidden_size, intermediate_size, state_size, conv_kernel, num_heads, head_dim, n_groups,
      chunk_size, num_layers;
  double layer_norm_epsilon, time_step_min, time_step_max;  // the last two: the clamp of dt
  bool use_bias, use_conv_bias, tie_word_embeddings;
};

class Mamba2Model {
 public:
  /// Reads dir/config.json and the weights; a tensor missing, of the wrong shape, or left over
  /// is an error naming it.
  static Mamba2Model load(const std::filesystem::path& dir);
  ~Mamba2Model();
  Mamba2Model(Mamba2Model&&) noexcept;
  Mamba2Model& operator=(Mamba2Model&&) noexcept;

  const Mamba2Config& config() const;

  /// input_ids (batch, length) int64 -> logits (batch, length, vocab) float32. With a cache, the
  /// tokens continue the sequences it holds (an empty cache starts them), and the cache is left
  /// holding the state after the last token.
  Tensor forward(const Tensor& input_ids, SsmCache* cache = nullptr) const;
  /// One decoding step from the cache: input_ids (batch) -> logits (batch, vocab).
  Tensor step(const Tensor& input_ids, SsmCache& cache) const;

 private:
  struct Impl;
  explicit Mamba2Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace subq::ssm
