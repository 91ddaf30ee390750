#pragma once
// Internal: the language model around fla's RWKV-6 and RWKV-7 layers. Each layer, on h (batch,
// length, hidden), with x the layer norm of h and d = shift(x) - x:
//   time mix     h += time_mix(attn_norm(h))        (recurrent/rwkv6_mixer.hpp, rwkv7_mixer.hpp)
//   channel mix  h += value(relu(key(x + d * mu_k))^2)  [* sigmoid(receptance(x + d * mu_r)), RWKV-6]
// with pre_norm before layer 0, the final norm and lm_head. The families differ in their time mix,
// whether the channel mix has a receptance, and their tensor names, which their loaders read.
#include <fmt/format.h>

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/checkpoint.hpp"
#include "core/dense.hpp"
#include "hybrid/architecture.hpp"
#include "recurrent/rwkv7_mixer.hpp"
#include "recurrent/token_shift.hpp"

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

/// fla's RWKV6FeedForward / RWKV7FeedForward; mu_r and receptance undefined for RWKV-7.
struct RwkvChannelMix {
  Tensor mu_k, key, value, mu_r, receptance;
  /// x (batch, length, hidden) -> (batch, length, hidden); shift: the carried last row, or null.
  Tensor forward(const Tensor& x, Tensor* shift) const;
};

template <class TimeMix>
struct FlaRwkvLayer {
  Norm pre_norm, attn_norm, ffn_norm;  // pre_norm: layer 0 only, when the config has it
  TimeMix time_mix;
  RwkvChannelMix channel_mix;
};

/// The layers' norms as fla names them: model.layers.{i}.{pre_norm (layer 0, norm_first),
/// attn_norm, ffn_norm}.{weight, bias (norm_bias)}.
template <class TimeMix>
void load_layer_norms(Checkpoint& ck, int layer, std::int64_t hidden, bool norm_bias, bool norm_first,
                      FlaRwkvLayer<TimeMix>& l) {
  auto norm = [&](const std::string& name) {
    const std::string p = fmt::format("model.layers.{}.{}.", layer, name);
    return Norm{ck.take(p + "weight", {hidden}), norm_bias ? ck.take(p + "bias", {hidden}) : Tensor{}};
  };
  if (layer == 0 && norm_first) l.pre_norm = norm("pre_norm");
  l.attn_norm = norm("attn_norm"), l.ffn_norm = norm("ffn_norm");
}

template <class TimeMix>
class FlaRwkv final : public hybrid::Architecture {
 public:
  FlaRwkv(std::int64_t vocab, double eps, FlaEnds ends, std::vector<FlaRwkvLayer<TimeMix>> layers)
      : vocab_(vocab), eps_(eps), ends_(std::move(ends)), layers_(std::move(layers)) {}

  std::int64_t vocab_size() const override { return vocab_; }

  Tensor forward(const Tensor& input_ids, ModelCache* cache) const override {
    Tensor h = embedding(ends_.embeddings, input_ids), v_first;  // v_first: RWKV-7's layer 0 values
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const FlaRwkvLayer<TimeMix>& l = layers_[i];
      std::vector<Tensor>* state = hybrid::layer_cache(cache, layers_.size(), i, kStates);
      if (l.pre_norm.weight.defined()) h = apply(l.pre_norm, h, eps_);
      const Tensor x = apply(l.attn_norm, h, eps_);
      if constexpr (std::is_same_v<TimeMix, Rwkv7TimeMix>)
        add_into(h, l.time_mix.forward(x, state, v_first));
      else
        add_into(h, l.time_mix.forward(x, state));
      add_into(h, l.channel_mix.forward(apply(l.ffn_norm, h, eps_), state ? &(*state)[kFfnShift] : nullptr));
    }
    return linear(apply(ends_.norm, h, eps_), ends_.lm_head);
  }

 private:
  // A layer's cache slots: the time mix's two (token shift, WKV state), then the channel mix's shift.
  static constexpr std::size_t kFfnShift = 2, kStates = 3;

  std::int64_t vocab_;
  double eps_;
  FlaEnds ends_;
  std::vector<FlaRwkvLayer<TimeMix>> layers_;
};

/// The model a family's config describes: load_layer(checkpoint, config, i) loads layer i.
/// Config has vocab, hidden, layers, eps, norm_bias and tie_embeddings.
template <class TimeMix, class Config, class LoadLayer>
std::unique_ptr<hybrid::Architecture> load_fla_rwkv(Checkpoint& ck, const Config& c, LoadLayer load_layer) {
  FlaEnds ends = FlaEnds::load(ck, c.vocab, c.hidden, c.norm_bias, c.tie_embeddings);
  std::vector<FlaRwkvLayer<TimeMix>> layers;
  for (int i = 0; i < c.layers; ++i) layers.push_back(load_layer(ck, c, i));
  return std::make_unique<FlaRwkv<TimeMix>>(c.vocab, c.eps, std::move(ends), std::move(layers));
}

}  // namespace subq::recurrent
