// RWKV-4 language models from Hugging Face RwkvForCausalLM checkpoints. Each block, on h
// (batch, length, hidden):
//   time mix      h += rwkv4_time_mix(ln1(h))                  (recurrent/rwkv4_mixer.hpp)
//   channel mix   x = ln2(h); s = x shifted one step back (the carried last x first)
//                 h += sigmoid(receptance(x*mix + s*(1-mix))) * value(relu(key(...))^2)
// with pre_ln before block 0, ln_out and the head after the last.

#include <cmath>

#include "core/check.hpp"
#include "core/dense.hpp"
#include "core/elementwise.hpp"
#include "hybrid/architecture.hpp"
#include "recurrent/fla_rwkv.hpp"
#include "recurrent/rwkv4_mixer.hpp"

namespace subq::recurrent {

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

struct BlockWeights {
  Norm pre_ln, ln1, ln2;  // pre_ln: block 0 only
  Rwkv4TimeMix time_mix;
  Tensor ffn_mix_k, ffn_mix_r, ffn_key, ffn_receptance, ffn_value;
};

BlockWeights load_block(Checkpoint& ck, const Config& c, int i) {
  const std::int64_t H = c.hidden, A = c.attention_hidden, F = c.intermediate;
  auto take = [&](const std::string& name, const Shape& shape) {
    return ck.take(fmt::format("rwkv.blocks.{}.{}", i, name), shape);
  };
  auto norm = [&](const std::string& name) { return Norm{take(name + ".weight", {H}), take(name + ".bias", {H})}; };
  BlockWeights w;
  if (i == 0) w.pre_ln = norm("pre_ln");
  w.ln1 = norm("ln1"), w.ln2 = norm("ln2");
  w.ffn_mix_k = take("feed_forward.time_mix_key", {1, 1, H});
  w.ffn_mix_r = take("feed_forward.time_mix_receptance", {1, 1, H});
  w.ffn_key = take("feed_forward.key.weight", {F, H});
  w.ffn_receptance = take("feed_forward.receptance.weight", {H, H});
  // Inference with rescale_every halves the residual stream every rescale_every blocks; the
  // blocks' output projections are scaled down to match, as transformers does.
  const float rescale = c.rescale_every > 0 ? std::ldexp(1.0f, -int(i / c.rescale_every)) : 1.0f;
  w.time_mix = Rwkv4TimeMix::load(ck, fmt::format("rwkv.blocks.{}.attention.", i), {H, A, rescale});
  w.ffn_value = scale(take("feed_forward.value.weight", {H, F}), rescale);
  return w;
}

// A block's slots in the model cache: the time mix's, then the channel mix's token shift.
constexpr std::size_t kFfnShift = kRwkv4MixerStates, kStates = kRwkv4MixerStates + 1;

class Rwkv4 final : public hybrid::Architecture {
 public:
  explicit Rwkv4(Checkpoint& ck) : config_(read_config(ck.config())) {
    const Config& c = config_;
    embeddings_ = ck.take("rwkv.embeddings.weight", {c.vocab, c.hidden});
    for (int i = 0; i < c.layers; ++i) blocks_.push_back(load_block(ck, c, i));
    ln_out_ = {ck.take("rwkv.ln_out.weight", {c.hidden}), ck.take("rwkv.ln_out.bias", {c.hidden})};
    head_ = hybrid::output_head(ck, "head.weight", embeddings_, c.tie_embeddings);
  }

  std::int64_t vocab_size() const override { return config_.vocab; }

  Tensor forward(const Tensor& input_ids, ModelCache* cache) const override {
    const Config& c = config_;
    Tensor h = embedding(embeddings_, input_ids);
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      const BlockWeights& w = blocks_[i];
      std::vector<Tensor>* state = hybrid::layer_cache(cache, blocks_.size(), i, kStates);
      if (i == 0) h = layer_norm(h, w.pre_ln.weight, w.pre_ln.bias, c.eps);
      add_into(h, w.time_mix.forward(layer_norm(h, w.ln1.weight, w.ln1.bias, c.eps), state));
      channel_mix(w, h, state);
      if (c.rescale_every > 0 && std::int64_t(i + 1) % c.rescale_every == 0) h = scale(h, 0.5);
    }
    constexpr double kLnOutEps = 1e-5;  // transformers builds ln_out with LayerNorm's default eps
    return linear(layer_norm(h, ln_out_.weight, ln_out_.bias, kLnOutEps), head_);
  }

 private:
  void channel_mix(const BlockWeights& w, Tensor& h, std::vector<Tensor>* state) const {
    const Tensor x = layer_norm(h, w.ln2.weight, w.ln2.bias, config_.eps);
    const Tensor s = token_shift(x, state ? &(*state)[kFfnShift] : nullptr);
    const Tensor k = activate(linear(lerp(s, x, w.ffn_mix_k), w.ffn_key), Activation::ReluSquare);
    const Tensor r = activate(linear(lerp(s, x, w.ffn_mix_r), w.ffn_receptance), Activation::Sigmoid);
    add_into(h, multiply(r, linear(k, w.ffn_value)));
  }

  Config config_;
  Tensor embeddings_, head_;
  Norm ln_out_;
  std::vector<BlockWeights> blocks_;
};

}  // namespace

}  // namespace subq::recurrent

namespace subq::hybrid {

std::unique_ptr<Architecture> load_rwkv4(Checkpoint& checkpoint) {
  return std::make_unique<recurrent::Rwkv4>(checkpoint);
}

}  // namespace subq::hybrid
