#pragma once
// RWKV-6 language models from fla RWKV6ForCausalLM checkpoints (config.json + model.safetensors).
// Each layer, on h (batch, length, hidden), with x the layer norm of h and d = shift(x) - x:
//   time mix     m_{r,w,k,v,g} = x_proj2(tanh(x_proj1(x + d * mu))) + x_bias   (data-dependent lerp)
//                r, k, v, g = projections of x + d * m_*;  w = -exp(lora(x + d * m_w))
//                h += o_proj(group_norm(wkv6(r, k, v, w, bonus)) * swish(g))
//   channel mix  h += sigmoid(receptance(x + d * mu_r)) * value(relu(key(x + d * mu_k))^2)
// with pre_norm before layer 0, the final norm and lm_head. Prefill runs WKV's chunked form,
// decoding its recurrent form from the carried state. CPU, float32.
#include <filesystem>
#include <memory>
#include <vector>

#include "../core/tensor.hpp"

namespace subq::recurrent {

struct Rwkv6Cache {
  std::vector<Tensor> attention_shift;  // per layer (batch, hidden): the last attn_norm output
  std::vector<Tensor> ffn_shift;        // per layer (batch, hidden): the last ffn_norm output
  std::vector<Tensor> state;            // per layer (batch, heads, d_k, d_v)
  bool empty() const { return state.empty(); }
};

class Rwkv6Model {
 public:
  /// Reads dir/config.json (model_type "rwkv6") and the weights; a tensor that is missing, of the
  /// wrong shape, or left over is an error naming it, as is a config option this library lacks.
  static Rwkv6Model load(const std::filesystem::path& dir);
  ~Rwkv6Model();
  Rwkv6Model(Rwkv6Model&&) noexcept;
  Rwkv6Model& operator=(Rwkv6Model&&) noexcept;

  std::int64_t vocab_size() const;
  /// input_ids (batch, length) int64 -> logits (batch, length, vocab) float32, continuing the
  /// sequences a cache holds and leaving their state in it (an empty cache starts them).
  Tensor forward(const Tensor& input_ids, Rwkv6Cache* cache = nullptr) const;
  /// One decoding step: input_ids (batch) -> logits (batch, vocab).
  Tensor step(const Tensor& input_ids, Rwkv6Cache& cache) const;

 private:
  struct Impl;
  explicit Rwkv6Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace subq::recurrent
