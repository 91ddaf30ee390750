#pragma once
// RWKV-7 language models from fla RWKV7ForCausalLM checkpoints (config.json + model.safetensors).
// Each layer, on h (batch, length, hidden), with x the layer norm of h and d = shift(x) - x:
//   time mix     x_* = x + d * mu_*;  r, k, v = projections;  w = -e^-1/2 sigmoid(lora(x_w))
//                v mixed toward layer 0's v by sigmoid(lora(x_v)) (after layer 0);  a = sigmoid(lora(x_a))
//                kk = normalised k * k_k per head;  k *= 1 + (a - 1) k_a
//                o = wkv7(r, w, k, v, -kk, kk * a);  o = (group_norm(o) + (r . k r_k) v) * lora(x_g)
//                h += o_proj(o)
//   channel mix  h += value(relu(key(x + d * mu_k))^2)
// with pre_norm before layer 0, the final norm and lm_head. CPU, float32.
#include <filesystem>
#include <memory>
#include <vector>

#include "../core/tensor.hpp"

namespace subq::recurrent {

struct Rwkv7Cache {
  std::vector<Tensor> attention_shift;  // per layer (batch, hidden): the last attn_norm output
  std::vector<Tensor> ffn_shift;        // per layer (batch, hidden): the last ffn_norm output
  std::vector<Tensor> state;            // per layer (batch, heads, d_v, d_k)
  bool empty() const { return state.empty(); }
};

class Rwkv7Model {
 public:
  /// Reads dir/config.json (model_type "rwkv7") and the weights; a tensor that is missing, of the
  /// wrong shape, or left over is an error naming it, as is a config option this library lacks.
  static Rwkv7Model load(const std::filesystem::path& dir);
  ~Rwkv7Model();
  Rwkv7Model(Rwkv7Model&&) noexcept;
  Rwkv7Model& operator=(Rwkv7Model&&) noexcept;

  std::int64_t vocab_size() const;
  /// input_ids (batch, length) int64 -> logits (batch, length, vocab) float32, continuing the
  /// sequences a cache holds and leaving their state in it (an empty cache starts them).
  Tensor forward(const Tensor& input_ids, Rwkv7Cache* cache = nullptr) const;
  /// One decoding step: input_ids (batch) -> logits (batch, vocab).
  Tensor step(const Tensor& input_ids, Rwkv7Cache& cache) const;

 private:
  struct Impl;
  explicit Rwkv7Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace subq::recurrent
