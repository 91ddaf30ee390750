#pragma once
// RWKV-4 language models from Hugging Face RwkvForCausalLM checkpoints (config.json +
// model.safetensors). Each block, on h (batch, length, hidden):
//   time mix      x = ln1(h); s = x shifted one step back (the carried last x first)
//                 k, v = key/value(x*mix + s*(1-mix)); r = sigmoid(receptance(...))
//                 h += output(r * wkv4(time_decay, time_first, k, v))
//   channel mix   x = ln2(h); s as above; h += sigmoid(receptance(...)) * value(relu(key(...))^2)
// with pre_ln before block 0, ln_out and the head after the last. Runs on the CPU in float32.
#include <filesystem>
#include <memory>
#include <vector>

#include "../core/tensor.hpp"
#include "wkv4.hpp"

namespace subq::recurrent {

/// What an RWKV-4 model carries from one call to the next: constant in size.
struct Rwkv4Cache {
  std::vector<Tensor> attention_shift;  // per layer (batch, hidden): the last ln1 output
  std::vector<Tensor> ffn_shift;        // per layer (batch, hidden): the last ln2 output
  std::vector<Wkv4State> wkv;           // per layer
  bool empty() const { return wkv.empty(); }
};

class Rwkv4Model {
 public:
  /// Reads dir/config.json (model_type "rwkv") and the weights; a tensor that is missing, of the
  /// wrong shape, or left over is an error naming it.
  static Rwkv4Model load(const std::filesystem::path& dir);
  ~Rwkv4Model();
  Rwkv4Model(Rwkv4Model&&) noexcept;
  Rwkv4Model& operator=(Rwkv4Model&&) noexcept;

  std::int64_t vocab_size() const;
  /// input_ids (batch, length) int64 -> logits (batch, length, vocab) float32, continuing the
  /// sequences a cache holds and leaving their state in it (an empty cache starts them).
  Tensor forward(const Tensor& input_ids, Rwkv4Cache* cache = nullptr) const;
  /// One decoding step: input_ids (batch) -> logits (batch, vocab).
  Tensor step(const Tensor& input_ids, Rwkv4Cache& cache) const;

 private:
  struct Impl;
  explicit Rwkv4Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace subq::recurrent
