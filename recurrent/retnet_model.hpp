#pragma once
// RetNet language models from fla RetNetForCausalLM checkpoints (config.json +
// model.safetensors). Each layer, on h (batch, length, hidden):
//   h += o_proj(rms_norm_per_head(retention(rotary(q), rotary(k), v)) * swish(g_proj(x))),  x = attn_norm(h)
//   h += down_proj(swish(gate_proj(x)) * up_proj(x)),                                   x = mlp_norm(h)
// with q, k, v, g projections of x, then the final norm and lm_head. Prefill runs the chunkwise
// form; decoding carries each layer's (heads, d_v, d_k) state and the position. CPU, float32.
#include <filesystem>
#include <memory>
#include <vector>

#include "../core/tensor.hpp"

namespace subq::recurrent {

struct RetNetCache {
  std::vector<Tensor> state;  // per layer (batch, heads, d_v, d_k)
  std::int64_t position = 0;  // tokens seen, for the rotary positions
  bool empty() const { return state.empty(); }
};

class RetNetModel {
 public:
  /// Reads dir/config.json (model_type "retnet") and the weights; a tensor that is missing, of the
  /// wrong shape, or left over is an error naming it, as is a config option this library lacks.
  static RetNetModel load(const std::filesystem::path& dir);
  ~RetNetModel();
  RetNetModel(RetNetModel&&) noexcept;
  RetNetModel& operator=(RetNetModel&&) noexcept;

  std::int64_t vocab_size() const;
  /// input_ids (batch, length) int64 -> logits (batch, length, vocab) float32, continuing the
  /// sequences a cache holds and leaving their state in it (an empty cache starts them).
  Tensor forward(const Tensor& input_ids, RetNetCache* cache = nullptr) const;
  /// One decoding step: input_ids (batch) -> logits (batch, vocab).
  Tensor step(const Tensor& input_ids, RetNetCache& cache) const;

 private:
  struct Impl;
  explicit RetNetModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace subq::recurrent
