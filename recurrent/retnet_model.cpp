// RetNet language models from fla RetNetForCausalLM checkpoints (config.json +
// model.safetensors). Each layer, on h (batch, length, hidden):
//   h += retention_mixer(attn_norm(h))                              (recurrent/retention_mixer.hpp)
//   h += down_proj(swish(gate_proj(x)) * up_proj(x)),  x = mlp_norm(h)
// then the final norm and lm_head. Decoding carries each layer's retention state and the position.
// CPU, float32.
#include <cmath>

#include "core/check.hpp"
#include "core/dense.hpp"
#include "core/elementwise.hpp"
#include "core/math.hpp"
#include "hybrid/architecture.hpp"
#include "recurrent/retention_mixer.hpp"

namespace subq::recurrent {

namespace {

struct Config {
  std::int64_t vocab, hidden, layers;
  double eps;
  bool tie_embeddings;
  RetentionMixerConfig retention;
};

Config read_config(const JsonConfig& c) {
  const std::string& src = c.source();
  auto refuse = [&](const char* key, bool unsupported, const char* why) {
    SUBQ_CHECK(!unsupported, "{}: {}: {} is not supported", src, key, why);
  };
  refuse("attn", !c.is_null("attn"), "hybrid attention layers");
  refuse("use_short_conv", c.get_bool("use_short_conv", false), "a short convolution on q, k, v");
  refuse("feature_map", !c.is_null("feature_map"), "a feature map on q and k");
  refuse("hidden_act", c.get_string("hidden_act", "swish") != "swish", "a gate other than swish");
  const std::int64_t hidden = c.get_int("hidden_size"), heads = c.get_int("num_heads");
  SUBQ_CHECK(c.get_int("num_kv_heads", heads) == heads, "{}: num_kv_heads: grouped keys are not supported", src);
  const double key_dim = double(hidden) * c.get_double("expand_k", 1.0), value_dim = double(hidden) * c.get_double("expand_v", 2.0);
  SUBQ_CHECK(std::floor(key_dim) == key_dim && std::floor(value_dim) == value_dim && std::int64_t(key_dim) % heads == 0 &&
                 std::int64_t(value_dim) % heads == 0,
             "{}: hidden_size * expand_k and * expand_v must be whole multiples of num_heads", src);
  const double eps = c.get_double("norm_eps");
  return {c.get_int("vocab_size"), hidden, c.get_int("num_hidden_layers"), eps, c.get_bool("tie_word_embeddings", false),
          {hidden, heads, std::int64_t(key_dim), std::int64_t(value_dim), eps, c.get_bool("use_output_gate", true)}};
}

struct LayerWeights {
  Tensor attn_norm;
  RetentionMixer retention;
  Tensor mlp_norm, gate, up, down;
};

LayerWeights load_layer(Checkpoint& ck, const Config& c, int i) {
  auto take = [&](const std::string& name, const Shape& shape) {
    return ck.take(fmt::format("model.layers.{}.{}", i, name), shape);
  };
  const std::int64_t H = c.hidden;
  LayerWeights w;
  w.attn_norm = take("attn_norm.weight", {H});
  w.retention = RetentionMixer::load(ck, fmt::format("model.layers.{}.attn.", i), c.retention);
  w.mlp_norm = take("mlp_norm.weight", {H});
  // The MLP width is the checkpoint's: fla derives it from hidden_ratio, rounded to 256.
  const std::string gate = fmt::format("model.layers.{}.mlp.gate_proj.weight", i);
  const std::int64_t F = ck.shape(gate).empty() ? 0 : ck.shape(gate)[0];
  w.gate = take("mlp.gate_proj.weight", {F, H});
  w.up = take("mlp.up_proj.weight", {F, H});
  w.down = take("mlp.down_proj.weight", {H, F});
  return w;
}

class RetNet final : public hybrid::Architecture {
 public:
  explicit RetNet(Checkpoint& ck) : config_(read_config(ck.config())) {
    const Config& c = config_;
    embeddings_ = ck.take("model.embeddings.weight", {c.vocab, c.hidden});
    for (int i = 0; i < c.layers; ++i) layers_.push_back(load_layer(ck, c, i));
    norm_ = ck.take("model.norm.weight", {c.hidden});
    lm_head_ = hybrid::output_head(ck, "lm_head.weight", embeddings_, c.tie_embeddings);
  }

  std::int64_t vocab_size() const override { return config_.vocab; }

  Tensor forward(const Tensor& input_ids, ModelCache* cache) const override {
    const Config& c = config_;
    const std::int64_t position = cache ? cache->position : 0;
    Tensor h = embedding(embeddings_, input_ids);
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const LayerWeights& w = layers_[i];
      std::vector<Tensor>* state = hybrid::layer_cache(cache, layers_.size(), i, 1);
      add_into(h, w.retention.forward(rms_norm(h, w.attn_norm, c.eps), state, position));
      const Tensor x = rms_norm(h, w.mlp_norm, c.eps);
      add_into(h, linear(swish_product(linear(x, w.gate), linear(x, w.up)), w.down));
    }
    return linear(rms_norm(h, norm_, c.eps), lm_head_);
  }

 private:
  Config config_;
  Tensor embeddings_, norm_, lm_head_;
  std::vector<LayerWeights> layers_;
};

}  // namespace

}  // namespace subq::recurrent

namespace subq::hybrid {

std::unique_ptr<Architecture> load_retnet(Checkpoint& checkpoint) { return std::make_unique<recurrent::RetNet>(checkpoint); }

}  // namespace subq::hybrid
