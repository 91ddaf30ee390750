#pragma once
// Internal: the pieces the recurrent models share, on float32 (batch, length, features) tensors
// on the CPU or a GPU.
#include "core/check.hpp"
#include "core/checkpoint.hpp"
#include "core/tensor.hpp"
#include "recurrent/activation.hpp"

namespace subq::recurrent {

/// A LayerNorm's weight and bias (bias undefined when the checkpoint has none).
struct Norm {
  Tensor weight, bias;
};
Tensor apply(const Norm& norm, const Tensor& x, double eps);

/// The ends every fla RWKV checkpoint shares: model.embeddings.weight, model.norm.{weight, bias}
/// and lm_head.weight (the embeddings when tied).
struct FlaEnds {
  Tensor embeddings, lm_head;
  Norm norm;
  static FlaEnds load(Checkpoint& checkpoint, std::int64_t vocab, std::int64_t hidden, bool norm_bias, bool tied);
};

/// The contract of the pieces below and of the models' own: x float32, `others` of its dtype on its
/// device; x contiguous when the piece writes it in place.
void check_layer_operands(const char* op, const Tensor& x, NamedTensors others, bool written_in_place = false);

/// x shifted one step back in time, with the carried row (or zeros) first; the carried row then
/// becomes x's last. carried may be null (no cache).
Tensor token_shift(const Tensor& x, Tensor* carried);

/// token_shift(x, carried) - x: how far each step is from the one before it (fla's token_shift).
Tensor token_delta(const Tensor& x, Tensor* carried);

/// f applied to every element of a contiguous float32 tensor, in place.
Tensor activate(Tensor t, Activation f);

/// a * b element-wise, in place in a; b has a's shape or is (features), broadcast over the rows.
Tensor multiply(Tensor a, const Tensor& b);
/// a + (b - a) * m = b * m + a * (1 - m), RWKV-4's static token-shift mix; m (1, 1, features).
Tensor lerp(const Tensor& a, const Tensor& b, const Tensor& m);
/// silu(a) * b element-wise (b of a's shape), in place in a.
Tensor swish_product(Tensor a, const Tensor& b);
/// a + b * c as a new tensor; c has a's shape or is (features), broadcast over the rows.
Tensor add_scaled(const Tensor& a, const Tensor& b, const Tensor& c);

}  // namespace subq::recurrent
