// RWKV-6 language models from fla RWKV6ForCausalLM checkpoints (config.json + model.safetensors).
// The layers (recurrent/fla_rwkv.hpp): RWKV-6's time mix (recurrent/rwkv6_mixer.hpp) and a channel
// mix with a receptance. CPU, float32.
#include "core/check.hpp"
#include "recurrent/fla_rwkv.hpp"
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

FlaRwkvLayer<Rwkv6TimeMix> load_layer(Checkpoint& ck, const Config& c, int i) {
  auto take = [&](const std::string& name, const Shape& shape) {
    return ck.take(fmt::format("model.layers.{}.{}", i, name), shape);
  };
  const std::int64_t H = c.hidden;
  FlaRwkvLayer<Rwkv6TimeMix> l;
  load_layer_norms(ck, i, H, c.norm_bias, c.norm_first, l);
  l.time_mix = Rwkv6TimeMix::load(ck, fmt::format("model.layers.{}.attn.", i), c.time_mix);
  const std::string key = fmt::format("model.layers.{}.ffn.key.linear.weight", i);
  const std::int64_t F = ck.shape(key).empty() ? 0 : ck.shape(key)[0];  // fla rounds hidden_ratio's width
  l.channel_mix = {take("ffn.key.mu", {H}), take("ffn.key.linear.weight", {F, H}), take("ffn.value.weight", {H, F}),
                   take("ffn.receptance.mu", {H}), take("ffn.receptance.linear.weight", {H, H})};
  return l;
}

}  // namespace

}  // namespace subq::recurrent

namespace subq::hybrid {

std::unique_ptr<Architecture> load_rwkv6(Checkpoint& checkpoint) {
  const recurrent::Config config = recurrent::read_config(checkpoint.config());
  return recurrent::load_fla_rwkv<recurrent::Rwkv6TimeMix>(checkpoint, config, recurrent::load_layer);
}

}  // namespace subq::hybrid
