// RWKV-6 language models from fla RWKV6ForCausalLM checkpoints (config.json + model.safetensors).
// Each layer, on h (batch, length, hidden), with x the layer norm of h and d = shift(x) - x:
//   time mix     h += rwkv6_time_mix(x)                        (recurrent/rwkv6_mixer.hpp)
//   channel mix  h += sigmoid(receptance(x + d * mu_r)) * value(relu(key(x + d * mu_k))^2)
// with pre_norm before layer 0, the final norm and lm_head. CPU, float32.

#include "core/check.hpp"
#include "core/dense.hpp"
#include "core/math.hpp"
#include "hybrid/architecture.hpp"
#include "recurrent/layer_ops.hpp"
#include "recurrent/rwkv6_mixer.hpp"

namespace subq::recurrent {

namespace {

struct Config {
  std::int64_t vocab, hidden, layers;
  double eps;
  bool norm_bias, norm_first, tie_embeddings;
  Rwkv6MixerConfig time_mix;
};

Config read_config(const JsonConfig& c) {
  const std::string& src = c.source();
  SUBQ_CHECK(c.is_null("attn"), "{}: attn: hybrid attention layers are not supported", src);
  SUBQ_CHECK(c.get_string("hidden_act", "sqrelu") == "sqrelu", "{}: hidden_act: only sqrelu is supported", src);
  const std::int64_t hidden = c.get_int("hidden_size"), heads = c.get_int("num_heads");
  const auto key_dim = std::int64_t(double(hidden) * c.get_double("expand_k", 0.5));
  const auto value_dim = std::int64_t(double(hidden) * c.get_double("expand_v", 1.0));
  SUBQ_CHECK(key_dim % heads == 0 && value_dim % heads == 0,
             "{}: the key ({}) and value ({}) widths must be multiples of num_heads {}", src, key_dim, value_dim, heads);
  const double eps = c.get_double("norm_eps", 1e-5);
  return {c.get_int("vocab_size"), hidden, c.get_int("num_hidden_layers"), eps, c.get_bool("norm_bias", true),
          c.get_bool("norm_first", true), c.get_bool("tie_word_embeddings", false),
          {hidden, heads, key_dim, value_dim, c.get_int("proj_low_rank_dim", 32), c.get_int("gate_low_rank_dim", 64), eps}};
}

struct LayerWeights {
  Norm pre_norm, attn_norm, ffn_norm;
  Rwkv6TimeMix time_mix;
  Tensor ffn_mu_k, ffn_key, ffn_mu_r, ffn_receptance, ffn_value;
};

LayerWeights load_layer(Checkpoint& ck, const Config& c, int i) {
  auto take = [&](const std::string& name, const Shape& shape) {
    return ck.take(fmt::format("model.layers.{}.{}", i, name), shape);
  };
  const std::int64_t H = c.hidden;
  auto norm = [&](const std::string& name, std::int64_t n) {
    return Norm{take(name + ".weight", {n}), c.norm_bias ? take(name + ".bias", {n}) : Tensor{}};
  };
  LayerWeights w;
  if (i == 0 && c.norm_first) w.pre_norm = norm("pre_norm", H);
  w.attn_norm = norm("attn_norm", H), w.ffn_norm = norm("ffn_norm", H);
  w.time_mix = Rwkv6TimeMix::load(ck, fmt::format("model.layers.{}.attn.", i), c.time_mix);
  const std::string key = fmt::format("model.layers.{}.ffn.key.linear.weight", i);
  const std::int64_t F = ck.shape(key).empty() ? 0 : ck.shape(key)[0];  // fla rounds hidden_ratio's width
  w.ffn_mu_k = take("ffn.key.mu", {H});
  w.ffn_key = take("ffn.key.linear.weight", {F, H});
  w.ffn_mu_r = take("ffn.receptance.mu", {H});
  w.ffn_receptance = take("ffn.receptance.linear.weight", {H, H});
  w.ffn_value = take("ffn.value.weight", {H, F});
  return w;
}

// A layer's slots in the model cache: the time mix's, then the channel mix's token shift.
constexpr std::size_t kFfnShift = kRwkv6MixerStates, kStates = kRwkv6MixerStates + 1;

class Rwkv6 final : public hybrid::Architecture {
 public:
  explicit Rwkv6(Checkpoint& ck) : config_(read_config(ck.config())) {
    const Config& c = config_;
    ends_ = FlaEnds::load(ck, c.vocab, c.hidden, c.norm_bias, c.tie_embeddings);
    for (int i = 0; i < c.layers; ++i) layers_.push_back(load_layer(ck, c, i));
  }

  std::int64_t vocab_size() const override { return config_.vocab; }

  Tensor forward(const Tensor& input_ids, ModelCache* cache) const override {
    Tensor h = embedding(ends_.embeddings, input_ids);
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const LayerWeights& w = layers_[i];
      std::vector<Tensor>* state = hybrid::layer_cache(cache, layers_.size(), i, kStates);
      if (w.pre_norm.weight.defined()) h = normed(h, w.pre_norm);
      add_into(h, w.time_mix.forward(normed(h, w.attn_norm), state));
      channel_mix(w, h, normed(h, w.ffn_norm), state);
    }
    return linear(normed(h, ends_.norm), ends_.lm_head);
  }

 private:
  Tensor normed(const Tensor& h, const Norm& n) const { return apply(n, h, config_.eps); }

  void channel_mix(const LayerWeights& w, Tensor& h, const Tensor& x, std::vector<Tensor>* state) const {
    const Tensor d = token_delta(x, state ? &(*state)[kFfnShift] : nullptr);
    const Tensor key = map_elements(linear(add_scaled(x, d, w.ffn_mu_k), w.ffn_key), [](float z) { return z > 0 ? z * z : 0.0f; });
    const Tensor r = map_elements(linear(add_scaled(x, d, w.ffn_mu_r), w.ffn_receptance), [](float z) { return sigmoid(z); });
    add_into(h, multiply(r, linear(key, w.ffn_value)));
  }

  Config config_;
  FlaEnds ends_;
  std::vector<LayerWeights> layers_;
};

}  // namespace

}  // namespace subq::recurrent

namespace subq::hybrid {

std::unique_ptr<Architecture> load_rwkv6(Checkpoint& checkpoint) { return std::make_unique<recurrent::Rwkv6>(checkpoint); }

}  // namespace subq::hybrid
