// RWKV-7 language models from fla RWKV7ForCausalLM checkpoints (config.json + model.safetensors).
// Each layer, on h (batch, length, hidden), with x the layer norm of h and d = shift(x) - x:
//   time mix     h += rwkv7_time_mix(x)          (recurrent/rwkv7_mixer.hpp; layer 0's values are
//                                                 the later layers' residual)
//   channel mix  h += value(relu(key(x + d * mu_k))^2)
// with pre_norm before layer 0, the final norm and lm_head. CPU, float32.

#include "core/check.hpp"
#include "core/dense.hpp"
#include "hybrid/architecture.hpp"
#include "recurrent/layer_ops.hpp"
#include "recurrent/rwkv7_mixer.hpp"

namespace subq::recurrent {

namespace {

struct Config {
  std::int64_t vocab, hidden, heads, head_dim, layers;
  std::vector<std::int64_t> value_dim;  // per layer
  double eps;
  bool norm_bias, norm_first, tie_embeddings;
};

Config read_config(const JsonConfig& c) {
  const std::string& src = c.source();
  SUBQ_CHECK(c.is_null("attn"), "{}: attn: hybrid attention layers are not supported", src);
  SUBQ_CHECK(c.get_string("hidden_act", "sqrelu") == "sqrelu", "{}: hidden_act: only sqrelu is supported", src);
  const std::int64_t hidden = c.get_int("hidden_size"), layers = c.get_int("num_hidden_layers");
  // As fla: head_dim, when given, fixes the number of heads; else num_heads does.
  const std::int64_t head_dim = c.is_null("head_dim") ? hidden / c.get_int("num_heads") : c.get_int("head_dim");
  SUBQ_CHECK(head_dim >= 1 && hidden % head_dim == 0, "{}: head_dim {} must divide hidden_size {}", src, head_dim, hidden);
  std::vector<std::int64_t> value_dim(std::size_t(layers), hidden);
  if (c.is_array("value_dim"))
    value_dim = c.get_ints("value_dim");
  else if (!c.is_null("value_dim"))
    std::fill(value_dim.begin(), value_dim.end(), c.get_int("value_dim"));
  SUBQ_CHECK(std::int64_t(value_dim.size()) == layers, "{}: value_dim: expected {} entries, found {}", src, layers,
             value_dim.size());
  for (const std::int64_t v : value_dim)
    SUBQ_CHECK(v % (hidden / head_dim) == 0, "{}: value_dim {} is not a multiple of the {} heads", src, v, hidden / head_dim);
  return {c.get_int("vocab_size"), hidden, hidden / head_dim, head_dim, layers, value_dim, c.get_double("norm_eps", 1e-5),
          c.get_bool("norm_bias", true), c.get_bool("norm_first", true), c.get_bool("tie_word_embeddings", false)};
}

struct LayerWeights {
  Norm pre_norm, attn_norm, ffn_norm;
  Rwkv7TimeMix time_mix;
  Tensor ffn_x_k, ffn_key, ffn_value;
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
  // LoRA ranks are the checkpoint's (fla derives defaults from the hidden size).
  w.time_mix = Rwkv7TimeMix::load(ck, fmt::format("model.layers.{}.attn.", i),
                                  {H, c.heads, c.head_dim, c.value_dim[std::size_t(i)], c.eps, i == 0});
  const Shape& key = ck.shape(fmt::format("model.layers.{}.ffn.key.weight", i));
  const std::int64_t F = key.empty() ? 0 : key[0];
  w.ffn_x_k = take("ffn.x_k", {H});
  w.ffn_key = take("ffn.key.weight", {F, H});
  w.ffn_value = take("ffn.value.weight", {H, F});
  return w;
}

// A layer's slots in the model cache: the time mix's, then the channel mix's token shift.
constexpr std::size_t kFfnShift = kRwkv7MixerStates, kStates = kRwkv7MixerStates + 1;

class Rwkv7 final : public hybrid::Architecture {
 public:
  explicit Rwkv7(Checkpoint& ck) : config_(read_config(ck.config())) {
    const Config& c = config_;
    ends_ = FlaEnds::load(ck, c.vocab, c.hidden, c.norm_bias, c.tie_embeddings);
    for (int i = 0; i < c.layers; ++i) layers_.push_back(load_layer(ck, c, i));
  }

  std::int64_t vocab_size() const override { return config_.vocab; }

  Tensor forward(const Tensor& input_ids, ModelCache* cache) const override {
    Tensor h = embedding(ends_.embeddings, input_ids), v_first;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const LayerWeights& w = layers_[i];
      std::vector<Tensor>* state = hybrid::layer_cache(cache, layers_.size(), i, kStates);
      if (w.pre_norm.weight.defined()) h = normed(h, w.pre_norm);
      add_into(h, w.time_mix.forward(normed(h, w.attn_norm), state, v_first));
      channel_mix(w, h, normed(h, w.ffn_norm), state);
    }
    return linear(normed(h, ends_.norm), ends_.lm_head);
  }

 private:
  Tensor normed(const Tensor& h, const Norm& n) const { return apply(n, h, config_.eps); }

  void channel_mix(const LayerWeights& w, Tensor& h, const Tensor& x, std::vector<Tensor>* state) const {
    const Tensor d = token_delta(x, state ? &(*state)[kFfnShift] : nullptr);
    const Tensor key = map_elements(linear(add_scaled(x, d, w.ffn_x_k), w.ffn_key), [](float z) { return z > 0 ? z * z : 0.0f; });
    add_into(h, linear(key, w.ffn_value));
  }

  Config config_;
  FlaEnds ends_;
  std::vector<LayerWeights> layers_;
};

}  // namespace

}  // namespace subq::recurrent

namespace subq::hybrid {

std::unique_ptr<Architecture> load_rwkv7(Checkpoint& checkpoint) { return std::make_unique<recurrent::Rwkv7>(checkpoint); }

}  // namespace subq::hybrid
