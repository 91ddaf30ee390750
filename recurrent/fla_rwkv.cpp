#include "recurrent/fla_rwkv.hpp"

#include "core/elementwise.hpp"

namespace subq::recurrent {

Tensor apply(const Norm& norm, const Tensor& x, double eps) { return layer_norm(x, norm.weight, norm.bias, eps); }

FlaEnds FlaEnds::load(Checkpoint& checkpoint, std::int64_t vocab, std::int64_t hidden, bool norm_bias, bool tied) {
  FlaEnds ends;
  ends.embeddings = checkpoint.take("model.embeddings.weight", {vocab, hidden});
  ends.norm = {checkpoint.take("model.norm.weight", {hidden}),
               norm_bias ? checkpoint.take("model.norm.bias", {hidden}) : Tensor{}};
  ends.lm_head = hybrid::output_head(checkpoint, "lm_head.weight", ends.embeddings, tied);
  return ends;
}

Tensor RwkvChannelMix::forward(const Tensor& x, Tensor* shift) const {
  const Tensor d = token_delta(x, shift);
  const Tensor k = activate(linear(add_scaled(x, d, mu_k), key), Activation::ReluSquare);
  Tensor out = linear(k, value);
  if (!receptance.defined()) return out;
  const Tensor r = activate(linear(add_scaled(x, d, mu_r), receptance), Activation::Sigmoid);
  return multiply(out, r);
}

}  // namespace subq::recurrent
