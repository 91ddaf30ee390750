// Hugging Face RwkvForCausalLM (RWKV-4). Each block, on h (batch, length, hidden), with LayerNorms:
//   time mix      h += rwkv4_time_mix(ln1(h))      (recurrent/rwkv4_mixer.hpp)
//   channel mix   h += channel_mix(ln2(h))         (recurrent/rwkv_channel_mix.hpp, RWKV-4's form)
// with pre_ln before block 0, ln_out and the head after the last; rescale_every halves the residual
// stream every so many blocks, and their output projections are scaled down to match.
#include <cmath>

#include "core/check.hpp"
#include "core/dense.hpp"
#include "lm/stack.hpp"
#include "recurrent/rwkv4_mixer.hpp"
#include "recurrent/rwkv_channel_mix.hpp"

namespace subq::lm {

namespace {

struct Config {
  std::int64_t vocab, hidden, attention_hidden, intermediate, layers, rescale_every;
  double eps;
  bool tie_embeddings;
};

Config read_config(const JsonConfig& c) {
  const std::int64_t hidden = c.get_int("hidden_size");
  return {c.get_int("vocab_size"),
          hidden,
          c.get_int("attention_hidden_size", hidden),
          c.get_int("intermediate_size", 4 * hidden),
          c.get_int("num_hidden_layers"),
          c.get_int("rescale_every", 0),
          c.get_double("layer_norm_epsilon"),
          c.get_bool("tie_word_embeddings", false)};
}

Block load_block(Checkpoint& ck, const Config& c, std::int64_t i) {
  const std::int64_t H = c.hidden, F = c.intermediate;
  const std::string p = fmt::format("rwkv.blocks.{}.", i);
  auto take = [&](const std::string& name, const Shape& shape) { return ck.take(p + name, shape); };
  auto matrix = [&](const std::string& name, const Shape& shape) { return ck.take_matrix(p + name, shape); };
  Block b;
  if (i == 0) b.pre_norm = Norm::layer(ck, p + "pre_ln.", H, c.eps, true);
  b.mixer_norm = Norm::layer(ck, p + "ln1.", H, c.eps, true);
  b.feed_forward_norm = Norm::layer(ck, p + "ln2.", H, c.eps, true);
  recurrent::RwkvChannelMix ffn;
  ffn.form = recurrent::RwkvChannelMix::Form::Rwkv4;
  ffn.mix_k = take("feed_forward.time_mix_key", {1, 1, H});
  ffn.mix_r = take("feed_forward.time_mix_receptance", {1, 1, H});
  ffn.key = matrix("feed_forward.key.weight", {F, H});
  ffn.receptance = matrix("feed_forward.receptance.weight", {H, H});
  // Inference with rescale_every halves the residual stream every rescale_every blocks; the
  // blocks' output projections are scaled down to match, as transformers does.
  const float rescale = c.rescale_every > 0 ? std::ldexp(1.0f, -int(i / c.rescale_every)) : 1.0f;
  b.mixer = std::make_unique<recurrent::Rwkv4TimeMix>(
      recurrent::Rwkv4TimeMix::load(ck, p + "attention.", {H, c.attention_hidden, rescale}));
  ffn.value = scale(matrix("feed_forward.value.weight", {H, F}), rescale);
  b.feed_forward = [ffn](const Tensor& x, MixerState* state) { return ffn.forward(x, state); };
  b.feed_forward_shifts = true;
  if (c.rescale_every > 0 && (i + 1) % c.rescale_every == 0) b.residual_scale = 0.5;
  return b;
}

}  // namespace

Stack load_rwkv4(Checkpoint& ck) {
  const Config c = read_config(ck.config());
  constexpr double kLnOutEps = 1e-5;  // transformers builds ln_out with LayerNorm's default eps
  return load_stack(
      ck, {"rwkv.embeddings.weight", "head.weight", c.vocab, c.hidden, c.layers, c.tie_embeddings},
      [&](std::int64_t i) { return load_block(ck, c, i); },
      [&] { return Norm::layer(ck, "rwkv.ln_out.", c.hidden, kLnOutEps, true); });
}

}  // namespace subq::lm
