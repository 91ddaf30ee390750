// fla RetNetForCausalLM. Each layer, on h (batch, length, hidden), with RMSNorms:
//   h += retention_mixer(attn_norm(h))                              (recurrent/retention_mixer.hpp)
//   h += down_proj(swish(gate_proj(x)) * up_proj(x)),  x = mlp_norm(h)
// then the final norm and lm_head. Decoding carries each layer's retention state and the position.
#include <cmath>

#include "core/check.hpp"
#include "core/dense.hpp"
#include "lm/stack.hpp"
#include "recurrent/retention_mixer.hpp"

namespace subq::lm {

namespace {

struct Config {
  std::int64_t vocab, hidden, layers;
  double eps;
  bool tie_embeddings;
  recurrent::RetentionMixerConfig retention;
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
  const double key_dim = double(hidden) * c.get_double("expand_k", 1.0),
               value_dim = double(hidden) * c.get_double("expand_v", 2.0);
  SUBQ_CHECK(std::floor(key_dim) == key_dim && std::floor(value_dim) == value_dim &&
                 std::int64_t(key_dim) % heads == 0 && std::int64_t(value_dim) % heads == 0,
             "{}: hidden_size * expand_k and * expand_v must be whole multiples of num_heads", src);
  const double eps = c.get_double("norm_eps");
  return {c.get_int("vocab_size"),
          hidden,
          c.get_int("num_hidden_layers"),
          eps,
          c.get_bool("tie_word_embeddings", false),
          {hidden, heads, std::int64_t(key_dim), std::int64_t(value_dim), eps, c.get_bool("use_output_gate", true)}};
}

Block load_layer(Checkpoint& ck, const Config& c, std::int64_t i) {
  const std::int64_t H = c.hidden;
  const std::string p = fmt::format("model.layers.{}.", i);
  Block b;
  b.mixer_norm = Norm::rms(ck, p + "attn_norm.", H, c.eps);
  b.mixer = std::make_unique<recurrent::RetentionMixer>(recurrent::RetentionMixer::load(ck, p + "attn.", c.retention));
  b.feed_forward_norm = Norm::rms(ck, p + "mlp_norm.", H, c.eps);
  // The MLP width is the checkpoint's: fla derives it from hidden_ratio, rounded to 256.
  const Shape& gate = ck.shape(p + "mlp.gate_proj.weight");
  b.feed_forward = [mlp = load_swiglu(ck, p + "mlp.", H, gate.empty() ? 0 : gate[0])](const Tensor& x, MixerState*) {
    return swiglu(x, mlp);
  };
  return b;
}

}  // namespace

Stack load_retnet(Checkpoint& ck) {
  const Config c = read_config(ck.config());
  return load_stack(
      ck, {"model.embeddings.weight", "lm_head.weight", c.vocab, c.hidden, c.layers, c.tie_embeddings},
      [&](std::int64_t i) { return load_layer(ck, c, i); },
      [&] { return Norm::rms(ck, "model.norm.", c.hidden, c.eps); });
}

}  // namespace subq::lm
