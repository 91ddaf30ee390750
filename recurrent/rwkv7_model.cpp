// RWKV-7 language models from fla RWKV7ForCausalLM checkpoints (config.json + model.safetensors).
// The layers (recurrent/fla_rwkv.hpp): RWKV-7's time mix (recurrent/rwkv7_mixer.hpp; layer 0's
// values are the later layers' residual) and a channel mix without receptance. CPU, float32.
#include "core/check.hpp"
#include "recurrent/fla_rwkv.hpp"
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

FlaRwkvLayer<Rwkv7TimeMix> load_layer(Checkpoint& ck, const Config& c, int i) {
  auto take = [&](const std::string& name, const Shape& shape) {
    return ck.take(fmt::format("model.layers.{}.{}", i, name), shape);
  };
  const std::int64_t H = c.hidden;
  FlaRwkvLayer<Rwkv7TimeMix> l;
  load_layer_norms(ck, i, H, c.norm_bias, c.norm_first, l);
  // LoRA ranks are the checkpoint's (fla derives defaults from the hidden size).
  l.time_mix = Rwkv7TimeMix::load(ck, fmt::format("model.layers.{}.attn.", i),
                                  {H, c.heads, c.head_dim, c.value_dim[std::size_t(i)], c.eps, i == 0});
  const Shape& key = ck.shape(fmt::format("model.layers.{}.ffn.key.weight", i));
  const std::int64_t F = key.empty() ? 0 : key[0];
  l.channel_mix = {take("ffn.x_k", {H}), take("ffn.key.weight", {F, H}), take("ffn.value.weight", {H, F}),
                   /*mu_r=*/Tensor{}, /*receptance=*/Tensor{}};  // RWKV-7 has no receptance
  return l;
}

}  // namespace

}  // namespace subq::recurrent

namespace subq::hybrid {

std::unique_ptr<Architecture> load_rwkv7(Checkpoint& checkpoint) {
  const recurrent::Config config = recurrent::read_config(checkpoint.config());
  return recurrent::load_fla_rwkv<recurrent::Rwkv7TimeMix>(checkpoint, config, recurrent::load_layer);
}

}  // namespace subq::hybrid
