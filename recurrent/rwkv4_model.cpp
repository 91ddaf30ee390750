#include "recurrent/rwkv4_model.hpp"

#include <algorithm>
#include <cmath>

#include "core/check.hpp"
#include "core/checkpoint.hpp"
#include "core/dense.hpp"
#include "core/math.hpp"
#include "recurrent/rwkv_common.hpp"

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

struct Norm {
  Tensor weight, bias;
};

struct BlockWeights {
  Norm pre_ln, ln1, ln2;  // pre_ln: block 0 only
  Tensor att_mix_k, att_mix_v, att_mix_r, time_decay, time_first, att_key, att_value, att_receptance, att_output;
  Tensor ffn_mix_k, ffn_mix_r, ffn_key, ffn_receptance, ffn_value;
};

Tensor scaled(const Tensor& t, float factor) {
  Tensor s = t.clone();
  for (std::int64_t i = 0; i < s.numel(); ++i) s.data<float>()[i] *= factor;
  return s;
}

BlockWeights load_block(Checkpoint& ck, const Config& c, int i) {
  const std::int64_t H = c.hidden, A = c.attention_hidden, F = c.intermediate;
  auto take = [&](const std::string& name, const Shape& shape) {
    return ck.take(fmt::format("rwkv.blocks.{}.{}", i, name), shape);
  };
  auto norm = [&](const std::string& name) { return Norm{take(name + ".weight", {H}), take(name + ".bias", {H})}; };
  BlockWeights w;
  if (i == 0) w.pre_ln = norm("pre_ln");
  w.ln1 = norm("ln1"), w.ln2 = norm("ln2");
  w.att_mix_k = take("attention.time_mix_key", {1, 1, H});
  w.att_mix_v = take("attention.time_mix_value", {1, 1, H});
  w.att_mix_r = take("attention.time_mix_receptance", {1, 1, H});
  w.time_decay = take("attention.time_decay", {A});
  w.time_first = take("attention.time_first", {A});
  w.att_key = take("attention.key.weight", {A, H});
  w.att_value = take("attention.value.weight", {A, H});
  w.att_receptance = take("attention.receptance.weight", {A, H});
  w.ffn_mix_k = take("feed_forward.time_mix_key", {1, 1, H});
  w.ffn_mix_r = take("feed_forward.time_mix_receptance", {1, 1, H});
  w.ffn_key = take("feed_forward.key.weight", {F, H});
  w.ffn_receptance = take("feed_forward.receptance.weight", {H, H});
  // Inference with rescale_every halves the residual stream every rescale_every blocks; the
  // blocks' output projections are scaled down to match, as transformers does.
  const float rescale = c.rescale_every > 0 ? std::ldexp(1.0f, -int(i / c.rescale_every)) : 1.0f;
  w.att_output = scaled(take("attention.output.weight", {H, A}), rescale);
  w.ffn_value = scaled(take("feed_forward.value.weight", {H, F}), rescale);
  return w;
}

// x * mix + shifted * (1 - mix) = shifted + (x - shifted) * mix, mix (1, 1, hidden).
Tensor mix(const Tensor& x, const Tensor& shifted, const Tensor& m) {
  const std::int64_t H = x.size(2);
  Tensor y = Tensor::empty(x.shape(), DType::F32);
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const float f = m.data<float>()[i % H];
    y.data<float>()[i] = x.data<float>()[i] * f + shifted.data<float>()[i] * (1 - f);
  }
  return y;
}

}  // namespace

struct Rwkv4Model::Impl {
  Config config;
  Tensor embeddings, head;
  Norm ln_out;
  std::vector<BlockWeights> blocks;

  void time_mix(const BlockWeights& w, Tensor& h, Rwkv4Cache* cache, std::size_t i) const {
    const Tensor x = layer_norm(h, w.ln1.weight, w.ln1.bias, config.eps);
    const Tensor s = token_shift(x, cache ? &cache->attention_shift[i] : nullptr);
    const Tensor k = linear(mix(x, s, w.att_mix_k), w.att_key), v = linear(mix(x, s, w.att_mix_v), w.att_value);
    const Tensor r = map_elements(linear(mix(x, s, w.att_mix_r), w.att_receptance), [](float z) { return sigmoid(z); });
    Wkv4Result wkv = wkv4(w.time_decay, w.time_first, k, v, cache ? cache->wkv[i] : Wkv4State{});
    if (cache) cache->wkv[i] = wkv.state;
    add_to(h, linear(multiply(r, wkv.out), w.att_output));
  }

  void channel_mix(const BlockWeights& w, Tensor& h, Rwkv4Cache* cache, std::size_t i) const {
    const Tensor x = layer_norm(h, w.ln2.weight, w.ln2.bias, config.eps);
    const Tensor s = token_shift(x, cache ? &cache->ffn_shift[i] : nullptr);
    const Tensor k = map_elements(linear(mix(x, s, w.ffn_mix_k), w.ffn_key), [](float z) { return z > 0 ? z * z : 0.0f; });
    const Tensor r = map_elements(linear(mix(x, s, w.ffn_mix_r), w.ffn_receptance), [](float z) { return sigmoid(z); });
    add_to(h, multiply(r, linear(k, w.ffn_value)));
  }
};

Rwkv4Model::Rwkv4Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Rwkv4Model::~Rwkv4Model() = default;
Rwkv4Model::Rwkv4Model(Rwkv4Model&&) noexcept = default;
Rwkv4Model& Rwkv4Model::operator=(Rwkv4Model&&) noexcept = default;

Rwkv4Model Rwkv4Model::load(const std::filesystem::path& dir) {
  Checkpoint ck = Checkpoint::open(dir);
  const std::string type = ck.config().get_string("model_type");
  SUBQ_CHECK(type == "rwkv", "{}: model_type '{}': expected rwkv", ck.config().source(), type);
  auto impl = std::make_unique<Impl>();
  const Config& c = impl->config = read_config(ck.config());
  impl->embeddings = ck.take("rwkv.embeddings.weight", {c.vocab, c.hidden});
  for (int i = 0; i < c.layers; ++i) impl->blocks.push_back(load_block(ck, c, i));
  impl->ln_out = {ck.take("rwkv.ln_out.weight", {c.hidden}), ck.take("rwkv.ln_out.bias", {c.hidden})};
  const bool stored_head = ck.contains("head.weight") || !c.tie_embeddings;
  const Tensor head = stored_head ? ck.take("head.weight", {c.vocab, c.hidden}) : Tensor{};
  impl->head = c.tie_embeddings ? impl->embeddings : head;
  ck.finish();
  return Rwkv4Model(std::move(impl));
}

std::int64_t Rwkv4Model::vocab_size() const { return impl_->config.vocab; }

Tensor Rwkv4Model::forward(const Tensor& input_ids, Rwkv4Cache* cache) const {
  SUBQ_CHECK(input_ids.defined() && input_ids.dim() == 2 && input_ids.dtype() == DType::I64 && input_ids.size(1) >= 1,
             "Rwkv4Model: input_ids: expected (batch, length >= 1) int64");
  const Config& c = impl_->config;
  if (cache && cache->empty()) {
    cache->attention_shift.resize(std::size_t(c.layers));
    cache->ffn_shift.resize(std::size_t(c.layers));
    cache->wkv.resize(std::size_t(c.layers));
  }
  Tensor h = embedding(impl_->embeddings, input_ids);
  for (std::size_t i = 0; i < impl_->blocks.size(); ++i) {
    const BlockWeights& w = impl_->blocks[i];
    if (i == 0) h = layer_norm(h, w.pre_ln.weight, w.pre_ln.bias, c.eps);
    impl_->time_mix(w, h, cache, i);
    impl_->channel_mix(w, h, cache, i);
    if (c.rescale_every > 0 && std::int64_t(i + 1) % c.rescale_every == 0) h = map_elements(h, [](float z) { return z / 2; });
  }
  constexpr double kLnOutEps = 1e-5;  // transformers builds ln_out with LayerNorm's default eps
  return linear(layer_norm(h, impl_->ln_out.weight, impl_->ln_out.bias, kLnOutEps), impl_->head);
}

Tensor Rwkv4Model::step(const Tensor& input_ids, Rwkv4Cache& cache) const {
  SUBQ_CHECK(input_ids.defined() && input_ids.dim() == 1, "Rwkv4Model::step: input_ids: expected (batch), found {}",
             input_ids.defined() ? to_string(input_ids.shape()) : "nothing");
  const std::int64_t batch = input_ids.size(0);
  return forward(input_ids.contiguous().view({batch, 1}), &cache).view({batch, vocab_size()});
}

}  // namespace subq::recurrent
