// Hugging Face RecurrentGemmaForCausalLM (Griffin, De et al. 2024). Each layer, on h (batch,
// length, hidden), with Gemma's RMSNorms (scaled by 1 + weight):
//   h += temporal_block(temporal_pre_norm(h))     Griffin's recurrent block (recurrent/griffin_mixer.hpp)
//                                                 or local attention, by block_types in turn
//   h += mlp_block(channel_pre_norm(h))           down(gelu_tanh(gate x + b) * (up x + b)) + b
// between model.embed_tokens (scaled by sqrt(hidden) rounded to bfloat16, as transformers' buffer
// is) and model.final_norm, then the tied head, its logits soft-capped at logits_soft_cap. The
// local attention: multi-query, q, k, v without bias, o_proj with one, rotary positions on the
// leading partial_rotary_factor of each head, a window of attention_window_size keys.
#include <algorithm>
#include <cmath>
#include <vector>

#include "attention/attention_mixer.hpp"
#include "core/check.hpp"
#include "core/dense.hpp"
#include "core/elementwise.hpp"
#include "lm/stack.hpp"
#include "recurrent/griffin_mixer.hpp"

namespace subq::lm {

namespace {

struct Config {
  std::int64_t vocab, hidden, layers, heads, kv_heads, mlp, lru_width, conv_width, window;
  double eps, rope_theta, rotary_fraction, logit_cap;
  bool tie_embeddings;
  std::vector<std::string> block_types;
};

// rope_theta and partial_rotary_factor: transformers 5 keeps them in rope_parameters, 4 at the top.
double rope_key(const JsonConfig& c, const char* key, double fallback) {
  if (c.has("rope_parameters") && !c.is_null("rope_parameters"))
    return c.child("rope_parameters").get_double(key, fallback);
  return c.get_double(key, fallback);
}

Config read_config(const JsonConfig& c) {
  const std::string& src = c.source();
  Config cfg{};
  cfg.vocab = c.get_int("vocab_size"), cfg.hidden = c.get_int("hidden_size"),
  cfg.layers = c.get_int("num_hidden_layers");
  cfg.heads = c.get_int("num_attention_heads"), cfg.kv_heads = c.get_int("num_key_value_heads", cfg.heads);
  cfg.mlp = c.get_int("intermediate_size") / 2;  // transformers' MLP is half the configured width
  cfg.lru_width = c.is_null("lru_width") ? cfg.hidden : c.get_int("lru_width");
  cfg.conv_width = c.get_int("conv1d_width", 4), cfg.window = c.get_int("attention_window_size", 2048);
  cfg.eps = c.get_double("rms_norm_eps", 1e-6), cfg.rope_theta = rope_key(c, "rope_theta", 10000);
  cfg.rotary_fraction = rope_key(c, "partial_rotary_factor", 0.5), cfg.logit_cap = c.get_double("logits_soft_cap", 30);
  cfg.tie_embeddings = c.get_bool("tie_word_embeddings", true);
  SUBQ_CHECK(c.get_string("hidden_activation", "gelu_pytorch_tanh") == "gelu_pytorch_tanh",
             "{}: hidden_activation: only gelu_pytorch_tanh is supported", src);
  SUBQ_CHECK(!c.get_bool("attention_bias", false), "{}: attention_bias: biased q, k, v projections are not supported",
             src);
  SUBQ_CHECK(cfg.heads >= 1 && cfg.hidden % cfg.heads == 0 && cfg.kv_heads >= 1 && cfg.heads % cfg.kv_heads == 0 &&
                 cfg.lru_width % cfg.heads == 0,
             "{}: num_attention_heads {} must divide hidden_size {} and lru_width {}, and be a multiple of "
             "num_key_value_heads {}",
             src, cfg.heads, cfg.hidden, cfg.lru_width, cfg.kv_heads);
  const std::int64_t head_dim = cfg.hidden / cfg.heads;
  const double rotary = double(head_dim) * cfg.rotary_fraction;
  SUBQ_CHECK(rotary == std::floor(rotary) && std::int64_t(rotary) % 2 == 0 && rotary > 0,
             "{}: partial_rotary_factor {} of heads of {} must turn an even number of dims", src, cfg.rotary_fraction,
             head_dim);
  cfg.block_types = c.has("block_types") ? c.get_strings("block_types")
                                         : std::vector<std::string>{"recurrent", "recurrent", "attention"};
  SUBQ_CHECK(!cfg.block_types.empty() &&
                 std::all_of(cfg.block_types.begin(), cfg.block_types.end(),
                             [](const std::string& t) { return t == "recurrent" || t == "attention"; }),
             "{}: block_types: expected \"recurrent\" and \"attention\" entries, repeated over the layers", src);
  return cfg;
}

// The MLP: down(gelu_tanh(gate x + b) * (up x + b)) + b.
FeedForward load_mlp(Checkpoint& ck, const std::string& p, std::int64_t H, std::int64_t F) {
  struct Mlp {
    Tensor gate, gate_bias, up, up_bias, down, down_bias;
  };
  const Mlp mlp{ck.take_matrix(p + "gate_proj.weight", {F, H}), ck.take(p + "gate_proj.bias", {F}),
                ck.take_matrix(p + "up_proj.weight", {F, H}),   ck.take(p + "up_proj.bias", {F}),
                ck.take_matrix(p + "down_proj.weight", {H, F}), ck.take(p + "down_proj.bias", {H})};
  return [mlp](const Tensor& x, MixerState*) {
    const Tensor gate = activate(linear(x, mlp.gate, mlp.gate_bias), Activation::GeluTanh);
    return linear(multiply(gate, linear(x, mlp.up, mlp.up_bias)), mlp.down, mlp.down_bias);
  };
}

std::unique_ptr<Mixer> load_temporal_block(Checkpoint& ck, const Config& c, std::int64_t layer, const std::string& p) {
  if (c.block_types[std::size_t(layer) % c.block_types.size()] == "recurrent") {
    const recurrent::GriffinMixerConfig griffin{c.hidden, c.lru_width, c.heads, c.conv_width,
                                                recurrent::RgLruNames::Transformers};
    return std::make_unique<recurrent::GriffinMixer>(recurrent::GriffinMixer::load(ck, p, griffin));
  }
  attention::AttentionMixerConfig local{c.hidden, c.heads, c.kv_heads, c.rope_theta};
  local.window = c.window;
  local.rotary_dims = std::int64_t(double(c.hidden / c.heads) * c.rotary_fraction);
  local.output_bias = true;
  return std::make_unique<attention::AttentionMixer>(attention::AttentionMixer::load(ck, p, local));
}

}  // namespace

Stack load_recurrent_gemma(Checkpoint& ck) {
  const Config c = read_config(ck.config());
  const std::int64_t H = c.hidden;
  // transformers keeps sqrt(hidden_size) as a bfloat16 buffer and multiplies by it.
  const double embedding_scale = double(
      Tensor::from_vector<float>({float(std::sqrt(double(H)))}, {1}).to(DType::BF16).to(DType::F32).data<float>()[0]);
  StackLayout layout{"model.embed_tokens.weight", "lm_head.weight", c.vocab, H, c.layers, c.tie_embeddings};
  layout.embedding_scale = embedding_scale, layout.logit_cap = c.logit_cap;
  auto load_block = [&](std::int64_t i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    Block b;
    b.mixer_norm = Norm::rms_plus_one(ck, p + "temporal_pre_norm.", H, c.eps);
    b.mixer = load_temporal_block(ck, c, i, p + "temporal_block.");
    b.feed_forward_norm = Norm::rms_plus_one(ck, p + "channel_pre_norm.", H, c.eps);
    b.feed_forward = load_mlp(ck, p + "mlp_block.", H, c.mlp);
    return b;
  };
  return load_stack(ck, layout, load_block, [&] { return Norm::rms_plus_one(ck, "model.final_norm.", H, c.eps); });
}

}  // namespace subq::lm
