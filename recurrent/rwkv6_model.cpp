#include "recurrent/rwkv6_model.hpp"

#include <cmath>

#include "core/check.hpp"
#include "core/checkpoint.hpp"
#include "core/dense.hpp"
#include "core/math.hpp"
#include "recurrent/rwkv_common.hpp"
#include "recurrent/wkv6.hpp"

namespace subq::recurrent {

namespace {

struct Config {
  std::int64_t vocab, hidden, heads, key_dim, value_dim, proj_rank, gate_rank, layers;
  double eps;
  bool norm_bias, norm_first, tie_embeddings;
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
  return {c.get_int("vocab_size"), hidden, heads, key_dim, value_dim, c.get_int("proj_low_rank_dim", 32),
          c.get_int("gate_low_rank_dim", 64), c.get_int("num_hidden_layers"), c.get_double("norm_eps", 1e-5),
          c.get_bool("norm_bias", true), c.get_bool("norm_first", true), c.get_bool("tie_word_embeddings", false)};
}

struct Norm {
  Tensor weight, bias;  // bias undefined without norm_bias
};

struct LayerWeights {
  Norm pre_norm, attn_norm, ffn_norm, g_norm;
  Tensor mu, lerp_down, lerp_up, x_bias;  // the data-dependent lerp: x_proj.0, x_proj.2, x_bias
  Tensor r, w_down, w_up, w_bias, k, v, g, bonus, o;
  Tensor ffn_mu_k, ffn_key, ffn_mu_r, ffn_receptance, ffn_value;
};

LayerWeights load_layer(Checkpoint& ck, const Config& c, int i) {
  auto take = [&](const std::string& name, const Shape& shape) {
    return ck.take(fmt::format("model.layers.{}.{}", i, name), shape);
  };
  const std::int64_t H = c.hidden, K = c.key_dim, V = c.value_dim, R = c.proj_rank, G = c.gate_rank;
  auto norm = [&](const std::string& name, std::int64_t n) {
    return Norm{take(name + ".weight", {n}), c.norm_bias ? take(name + ".bias", {n}) : Tensor{}};
  };
  LayerWeights w;
  if (i == 0 && c.norm_first) w.pre_norm = norm("pre_norm", H);
  w.attn_norm = norm("attn_norm", H), w.ffn_norm = norm("ffn_norm", H);
  w.mu = take("attn.x_proj.0.mu", {H});
  w.lerp_down = take("attn.x_proj.0.linear.weight", {5 * R, H});
  w.lerp_up = take("attn.x_proj.2.weight", {H, 5 * R});
  w.x_bias = take("attn.x_bias", {5, H});
  w.r = take("attn.r_proj.linear.weight", {K, H});
  w.w_down = take("attn.w_proj.linear.lora.0.weight", {G, H});
  w.w_up = take("attn.w_proj.linear.lora.2.weight", {K, G});
  w.w_bias = take("attn.w_proj.linear.lora.2.bias", {K});
  w.k = take("attn.k_proj.linear.weight", {K, H});
  w.v = take("attn.v_proj.linear.weight", {V, H});
  w.g = take("attn.g_proj.linear.weight", {V, H});
  w.bonus = take("attn.bonus", {c.heads, K / c.heads});
  w.g_norm = Norm{take("attn.g_norm.weight", {V}), take("attn.g_norm.bias", {V})};
  w.o = take("attn.o_proj.weight", {H, V});
  const std::string key = fmt::format("model.layers.{}.ffn.key.linear.weight", i);
  const std::int64_t F = ck.shape(key).empty() ? 0 : ck.shape(key)[0];  // fla rounds hidden_ratio's width
  w.ffn_mu_k = take("ffn.key.mu", {H});
  w.ffn_key = take("ffn.key.linear.weight", {F, H});
  w.ffn_mu_r = take("ffn.receptance.mu", {H});
  w.ffn_receptance = take("ffn.receptance.linear.weight", {H, H});
  w.ffn_value = take("ffn.value.weight", {H, F});
  return w;
}

}  // namespace

struct Rwkv6Model::Impl {
  Config config;
  Tensor embeddings, lm_head;
  Norm norm;
  std::vector<LayerWeights> layers;

  Tensor normed(const Tensor& h, const Norm& n) const { return layer_norm(h, n.weight, n.bias, config.eps); }

  // The five data-dependent lerp coefficients m_{r,w,k,v,g}, each (batch, length, hidden).
  std::vector<Tensor> lerp_coefficients(const LayerWeights& w, const Tensor& x, const Tensor& d) const {
    const std::int64_t R = config.proj_rank;
    const Tensor low = map_elements(linear(add_scaled(x, d, w.mu), w.lerp_down), [](float z) { return std::tanh(z); });
    std::vector<Tensor> m;
    for (std::int64_t n = 0; n < 5; ++n) {
      m.push_back(linear(low.slice(2, n * R, (n + 1) * R), w.lerp_up.slice(1, n * R, (n + 1) * R), w.x_bias.select(0, n)));
    }
    return m;
  }

  void time_mix(const LayerWeights& w, Tensor& h, const Tensor& x, Rwkv6Cache* cache, std::size_t i) const {
    const std::int64_t B = x.size(0), L = x.size(1), heads = config.heads, dk = config.key_dim / heads,
                       dv = config.value_dim / heads;
    Tensor d = token_shift(x, cache ? &cache->attention_shift[i] : nullptr);
    for (std::int64_t j = 0; j < d.numel(); ++j) d.data<float>()[j] -= x.data<float>()[j];
    const std::vector<Tensor> m = lerp_coefficients(w, x, d);
    auto input = [&](int n) { return add_scaled(x, d, m[std::size_t(n)]); };  // x + d * m_n
    const Tensor r = linear(input(0), w.r).view({B, L, heads, dk});
    const Tensor decay_low = map_elements(linear(input(1), w.w_down), [](float z) { return std::tanh(z); });
    const Tensor log_decay = map_elements(linear(decay_low, w.w_up, w.w_bias), [](float z) { return -std::exp(z); });
    const Tensor k = linear(input(2), w.k).view({B, L, heads, dk});
    const Tensor v = linear(input(3), w.v).view({B, L, heads, dv});
    const Tensor g = map_elements(linear(input(4), w.g), [](float z) { return silu(z); });
    const Tensor state = cache ? cache->state[i] : Tensor{};
    const Wkv6Result wkv = L == 1 && cache ? wkv6_recurrent(r, k, v, log_decay.view({B, L, heads, dk}), w.bonus, state)
                                           : wkv6(r, k, v, log_decay.view({B, L, heads, dk}), w.bonus, state);
    if (cache) cache->state[i] = wkv.final_state;
    const Tensor o = group_norm(wkv.o.view({B, L, config.value_dim}), heads, w.g_norm.weight, w.g_norm.bias, config.eps);
    add_to(h, linear(multiply(o, g), w.o));
  }

  void channel_mix(const LayerWeights& w, Tensor& h, const Tensor& x, Rwkv6Cache* cache, std::size_t i) const {
    Tensor d = token_shift(x, cache ? &cache->ffn_shift[i] : nullptr);
    for (std::int64_t j = 0; j < d.numel(); ++j) d.data<float>()[j] -= x.data<float>()[j];
    const Tensor key = map_elements(linear(add_scaled(x, d, w.ffn_mu_k), w.ffn_key), [](float z) { return z > 0 ? z * z : 0.0f; });
    const Tensor r = map_elements(linear(add_scaled(x, d, w.ffn_mu_r), w.ffn_receptance), [](float z) { return sigmoid(z); });
    add_to(h, multiply(r, linear(key, w.ffn_value)));
  }
};

Rwkv6Model::Rwkv6Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Rwkv6Model::~Rwkv6Model() = default;
Rwkv6Model::Rwkv6Model(Rwkv6Model&&) noexcept = default;
Rwkv6Model& Rwkv6Model::operator=(Rwkv6Model&&) noexcept = default;

Rwkv6Model Rwkv6Model::load(const std::filesystem::path& dir) {
  Checkpoint ck = Checkpoint::open(dir);
  const std::string type = ck.config().get_string("model_type");
  SUBQ_CHECK(type == "rwkv6", "{}: model_type '{}': expected rwkv6", ck.config().source(), type);
  auto impl = std::make_unique<Impl>();
  const Config& c = impl->config = read_config(ck.config());
  impl->embeddings = ck.take("model.embeddings.weight", {c.vocab, c.hidden});
  for (int i = 0; i < c.layers; ++i) impl->layers.push_back(load_layer(ck, c, i));
  impl->norm = Norm{ck.take("model.norm.weight", {c.hidden}), c.norm_bias ? ck.take("model.norm.bias", {c.hidden}) : Tensor{}};
  const bool stored_head = ck.contains("lm_head.weight") || !c.tie_embeddings;
  const Tensor head = stored_head ? ck.take("lm_head.weight", {c.vocab, c.hidden}) : Tensor{};
  impl->lm_head = c.tie_embeddings ? impl->embeddings : head;
  ck.finish();
  return Rwkv6Model(std::move(impl));
}

std::int64_t Rwkv6Model::vocab_size() const { return impl_->config.vocab; }

Tensor Rwkv6Model::forward(const Tensor& input_ids, Rwkv6Cache* cache) const {
  SUBQ_CHECK(input_ids.defined() && input_ids.dim() == 2 && input_ids.dtype() == DType::I64 && input_ids.size(1) >= 1,
             "Rwkv6Model: input_ids: expected (batch, length >= 1) int64");
  const std::size_t layers = impl_->layers.size();
  if (cache && cache->empty()) {
    cache->attention_shift.resize(layers);
    cache->ffn_shift.resize(layers);
    cache->state.resize(layers);
  }
  Tensor h = embedding(impl_->embeddings, input_ids);
  for (std::size_t i = 0; i < layers; ++i) {
    const LayerWeights& w = impl_->layers[i];
    if (w.pre_norm.weight.defined()) h = impl_->normed(h, w.pre_norm);
    impl_->time_mix(w, h, impl_->normed(h, w.attn_norm), cache, i);
    impl_->channel_mix(w, h, impl_->normed(h, w.ffn_norm), cache, i);
  }
  return linear(impl_->normed(h, impl_->norm), impl_->lm_head);
}

Tensor Rwkv6Model::step(const Tensor& input_ids, Rwkv6Cache& cache) const {
  SUBQ_CHECK(input_ids.defined() && input_ids.dim() == 1, "Rwkv6Model::step: input_ids: expected (batch), found {}",
             input_ids.defined() ? to_string(input_ids.shape()) : "nothing");
  const std::int64_t batch = input_ids.size(0);
  return forward(input_ids.contiguous().view({batch, 1}), &cache).view({batch, vocab_size()});
}

}  // namespace subq::recurrent
