// RWKV-6 language models from fla RWKV6ForCausalLM checkpoints (config.json + model.safetensors).
// Each layer, on h (batch, length, hidden), with x the layer norm of h and d = shift(x) - x:
//   time mix     m_{r,w,k,v,g} = x_proj2(tanh(x_proj1(x + d * mu))) + x_bias   (data-dependent lerp)
//                r, k, v, g = projections of x + d * m_*;  w = -exp(lora(x + d * m_w))
//                h += o_proj(group_norm(wkv6(r, k, v, w, bonus)) * swish(g))
//   channel mix  h += sigmoid(receptance(x + d * mu_r)) * value(relu(key(x + d * mu_k))^2)
// with pre_norm before layer 0, the final norm and lm_head. Prefill runs WKV's chunked form,
// decoding its recurrent form from the carried state. CPU, float32.
#include <cmath>

#include "core/check.hpp"
#include "core/dense.hpp"
#include "core/math.hpp"
#include "hybrid/architecture.hpp"
#include "recurrent/layer_ops.hpp"
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

// A layer's slots in the model cache.
enum Rwkv6State : std::size_t { kAttentionShift, kFfnShift, kWkvState, kStates };

class Rwkv6 final : public hybrid::Architecture {
 public:
  explicit Rwkv6(Checkpoint& ck) : config_(read_config(ck.config())) {
    const Config& c = config_;
    ends_ = FlaEnds::load(ck, c.vocab, c.hidden, c.norm_bias, c.tie_embeddings);
    for (int i = 0; i < c.layers; ++i) layers_.push_back(load_layer(ck, c, i));
  }

  std::int64_t vocab_size() const override { return config_.vocab; }

  Tensor forward(const Tensor& input_ids, ModelCache* cache) const override {
    Tensor h = embedding(ends_.embeddings, input_ids);
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const LayerWeights& w = layers_[i];
      std::vector<Tensor>* state = hybrid::layer_cache(cache, layers_.size(), i, kStates);
      if (w.pre_norm.weight.defined()) h = normed(h, w.pre_norm);
      time_mix(w, h, normed(h, w.attn_norm), state);
      channel_mix(w, h, normed(h, w.ffn_norm), state);
    }
    return linear(normed(h, ends_.norm), ends_.lm_head);
  }

 private:
  Tensor normed(const Tensor& h, const Norm& n) const { return apply(n, h, config_.eps); }

  // The five data-dependent lerp coefficients m_{r,w,k,v,g}, each (batch, length, hidden).
  std::vector<Tensor> lerp_coefficients(const LayerWeights& w, const Tensor& x, const Tensor& d) const {
    const std::int64_t R = config_.proj_rank;
    const Tensor low = map_elements(linear(add_scaled(x, d, w.mu), w.lerp_down), [](float z) { return std::tanh(z); });
    std::vector<Tensor> m;
    for (std::int64_t n = 0; n < 5; ++n) {
      m.push_back(linear(low.slice(2, n * R, (n + 1) * R), w.lerp_up.slice(1, n * R, (n + 1) * R), w.x_bias.select(0, n)));
    }
    return m;
  }

  void time_mix(const LayerWeights& w, Tensor& h, const Tensor& x, std::vector<Tensor>* state) const {
    const std::int64_t B = x.size(0), L = x.size(1), heads = config_.heads, dk = config_.key_dim / heads,
                       dv = config_.value_dim / heads;
    const Tensor d = token_delta(x, state ? &(*state)[kAttentionShift] : nullptr);
    const std::vector<Tensor> m = lerp_coefficients(w, x, d);
    auto input = [&](int n) { return add_scaled(x, d, m[std::size_t(n)]); };  // x + d * m_n
    const Tensor r = linear(input(0), w.r).view({B, L, heads, dk});
    const Tensor decay_low = map_elements(linear(input(1), w.w_down), [](float z) { return std::tanh(z); });
    const Tensor log_decay = map_elements(linear(decay_low, w.w_up, w.w_bias), [](float z) { return -std::exp(z); });
    const Tensor k = linear(input(2), w.k).view({B, L, heads, dk});
    const Tensor v = linear(input(3), w.v).view({B, L, heads, dv});
    const Tensor g = map_elements(linear(input(4), w.g), [](float z) { return silu(z); });
    const Tensor carried = state ? (*state)[kWkvState] : Tensor{};
    const Wkv6Result wkv = L == 1 && state ? wkv6_recurrent(r, k, v, log_decay.view({B, L, heads, dk}), w.bonus, carried)
                                           : wkv6(r, k, v, log_decay.view({B, L, heads, dk}), w.bonus, carried);
    if (state) (*state)[kWkvState] = wkv.final_state;
    const Tensor o = group_norm(wkv.o.view({B, L, config_.value_dim}), heads, w.g_norm.weight, w.g_norm.bias, config_.eps);
    add_into(h, linear(multiply(o, g), w.o));
  }

  void channel_mix(const LayerWeights& w, Tensor& h, const Tensor& x, std::vector<Tensor>* state) const {
    const Tensor d = token_delta(x, state ? &(*state)[kFfnShift] : nullptr);
    const Tensor key = map_elements(linear(add_scaled(x, d, w.ffn_mu_k), w.ffn_key), [](float z) { return z > 0 ? z * z : 0.0f; });
    const Tensor r = map_elements(linear(add_scaled(x, d, w.ffn_mu_r), w.ffn_receptance), [](float z) { return sigmoid(z); });
    add_into(h, multiply(r, linear(key, w.ffn_value)));
  }

  Config config_;
  FlaEnds ends_;
  std::vector<LayerWeights> layers_;
};

}  // namespace

}  // namespace subq::recurrent

namespace subq::hybrid {

std::unique_ptr<Architecture> load_rwkv6(Checkpoint& checkpoint) { return std::make_unique<recurrent::Rwkv6>(checkpoint); }

}  // namespace subq::hybrid
