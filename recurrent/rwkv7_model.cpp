// RWKV-7 language models from fla RWKV7ForCausalLM checkpoints (config.json + model.safetensors).
// Each layer, on h (batch, length, hidden), with x the layer norm of h and d = shift(x) - x:
//   time mix     x_* = x + d * mu_*;  r, k, v = projections;  w = -e^-1/2 sigmoid(lora(x_w))
//                v mixed toward layer 0's v by sigmoid(lora(x_v)) (after layer 0);  a = sigmoid(lora(x_a))
//                kk = normalised k * k_k per head;  k *= 1 + (a - 1) k_a
//                o = wkv7(r, w, k, v, -kk, kk * a) (chunked for prompts, stepped for one token);  o = (group_norm(o) + (r . k r_k) v) * lora(x_g)
//                h += o_proj(o)
//   channel mix  h += value(relu(key(x + d * mu_k))^2)
// with pre_norm before layer 0, the final norm and lm_head. CPU, float32.
#include <algorithm>
#include <cmath>

#include "core/check.hpp"
#include "core/dense.hpp"
#include "core/math.hpp"
#include "hybrid/architecture.hpp"
#include "recurrent/layer_ops.hpp"
#include "recurrent/wkv7.hpp"

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

// x -> up(activation(down(x))) + bias: the low-rank branches of RWKV-7.
struct LoRA {
  Tensor down, up, bias;
  template <class F>
  Tensor operator()(const Tensor& x, F activation) const {
    return linear(map_elements(linear(x, down), activation), up, bias);
  }
};

struct LayerWeights {
  Norm pre_norm, attn_norm, ffn_norm, g_norm;
  Tensor x_r, x_w, x_k, x_v, x_a, x_g, k_k, k_a, r_k, r, k, v, o;
  LoRA w_lora, v_lora, a_lora, g_lora;  // v_lora: layers after the first
  Tensor ffn_x_k, ffn_key, ffn_value;
};

LayerWeights load_layer(Checkpoint& ck, const Config& c, int i) {
  auto take = [&](const std::string& name, const Shape& shape) {
    return ck.take(fmt::format("model.layers.{}.{}", i, name), shape);
  };
  // LoRA ranks are the checkpoint's (fla derives defaults from the hidden size).
  auto rank = [&](const std::string& name) {
    const Shape& s = ck.shape(fmt::format("model.layers.{}.attn.{}.lora.0.weight", i, name));
    return s.empty() ? std::int64_t(0) : s[0];
  };
  auto lora = [&](const std::string& name, std::int64_t out, bool bias) {
    const std::int64_t R = rank(name);
    const std::string p = "attn." + name + ".lora.";
    return LoRA{take(p + "0.weight", {R, c.hidden}), take(p + "2.weight", {out, R}), bias ? take(p + "2.bias", {out}) : Tensor{}};
  };
  const std::int64_t H = c.hidden, V = c.value_dim[std::size_t(i)];
  auto norm = [&](const std::string& name, std::int64_t n) {
    return Norm{take(name + ".weight", {n}), c.norm_bias ? take(name + ".bias", {n}) : Tensor{}};
  };
  LayerWeights w;
  if (i == 0 && c.norm_first) w.pre_norm = norm("pre_norm", H);
  w.attn_norm = norm("attn_norm", H), w.ffn_norm = norm("ffn_norm", H);
  for (auto [name, t] : {std::pair{"x_r", &w.x_r}, std::pair{"x_w", &w.x_w}, std::pair{"x_k", &w.x_k},
                         std::pair{"x_v", &w.x_v}, std::pair{"x_a", &w.x_a}, std::pair{"x_g", &w.x_g}})
    *t = take(std::string("attn.") + name, {1, 1, H});
  w.k_k = take("attn.k_k", {H});
  w.k_a = take("attn.k_a", {H});
  w.r_k = take("attn.r_k", {c.heads, c.head_dim});
  w.r = take("attn.r_proj.weight", {H, H});
  w.k = take("attn.k_proj.weight", {H, H});
  w.v = take("attn.v_proj.weight", {V, H});
  w.o = take("attn.o_proj.weight", {H, V});
  w.w_lora = lora("w_lora", H, true);
  if (i != 0) w.v_lora = lora("v_lora", V, true);
  w.a_lora = lora("a_lora", H, true);
  w.g_lora = lora("g_lora", V, false);
  w.g_norm = Norm{take("attn.g_norm.weight", {V}), take("attn.g_norm.bias", {V})};
  const Shape& key = ck.shape(fmt::format("model.layers.{}.ffn.key.weight", i));
  const std::int64_t F = key.empty() ? 0 : key[0];
  w.ffn_x_k = take("ffn.x_k", {H});
  w.ffn_key = take("ffn.key.weight", {F, H});
  w.ffn_value = take("ffn.value.weight", {H, F});
  return w;
}

float sigmoidf(float z) { return sigmoid(z); }
float identity(float z) { return z; }

// Per head: x / max(|x|, 1e-12), torch's F.normalize over the last dimension of (..., heads, d).
Tensor normalize_heads(Tensor x, std::int64_t d) {
  float* p = x.data<float>();
  for (std::int64_t g = 0; g < x.numel() / d; ++g) {
    float sum = 0;
    for (std::int64_t i = 0; i < d; ++i) sum += p[g * d + i] * p[g * d + i];
    const float scale = 1.0f / std::max(std::sqrt(sum), 1e-12f);
    for (std::int64_t i = 0; i < d; ++i) p[g * d + i] *= scale;
  }
  return x;
}

// A layer's slots in the model cache.
enum Rwkv7State : std::size_t { kAttentionShift, kFfnShift, kWkvState, kStates };

class Rwkv7 final : public hybrid::Architecture {
 public:
  explicit Rwkv7(Checkpoint& ck) : config_(read_config(ck.config())) {
    const Config& c = config_;
    ends_ = FlaEnds::load(ck, c.vocab, c.hidden, c.norm_bias, c.tie_embeddings);
    for (int i = 0; i < c.layers; ++i) layers_.push_back(load_layer(ck, c, i));
  }

  std::int64_t vocab_size() const override { return config_.vocab; }

  Tensor forward(const Tensor& input_ids, ModelCache* cache) const override {
    Tensor h = embedding(ends_.embeddings, input_ids), v_first;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const LayerWeights& w = layers_[i];
      std::vector<Tensor>* state = hybrid::layer_cache(cache, layers_.size(), i, kStates);
      if (w.pre_norm.weight.defined()) h = normed(h, w.pre_norm);
      time_mix(w, h, normed(h, w.attn_norm), v_first, i, state);
      channel_mix(w, h, normed(h, w.ffn_norm), state);
    }
    return linear(normed(h, ends_.norm), ends_.lm_head);
  }

 private:
  Tensor normed(const Tensor& h, const Norm& n) const { return apply(n, h, config_.eps); }

  // v_first: layer 0's values (set there, mixed into the later layers); i: the layer.
  void time_mix(const LayerWeights& w, Tensor& h, const Tensor& x, Tensor& v_first, std::size_t i,
                std::vector<Tensor>* state) const {
    const std::int64_t B = x.size(0), L = x.size(1), heads = config_.heads, dk = config_.head_dim,
                       V = config_.value_dim[i], dv = V / heads;
    const Tensor d = token_delta(x, state ? &(*state)[kAttentionShift] : nullptr);
    const Tensor r = linear(add_scaled(x, d, w.x_r), w.r);
    const Tensor log_decay = map_elements(w.w_lora(add_scaled(x, d, w.x_w), [](float z) { return std::tanh(z); }),
                                          [](float z) { return -0.6065306597126334f * sigmoid(z); });
    Tensor k = linear(add_scaled(x, d, w.x_k), w.k);
    const Tensor xv = add_scaled(x, d, w.x_v);
    Tensor v = linear(xv, w.v);
    if (i == 0) {
      v_first = v;
    } else {  // v + (v_first - v) * sigmoid(v_lora(x_v))
      const Tensor mix = map_elements(w.v_lora(xv, identity), sigmoidf);
      for (std::int64_t j = 0; j < v.numel(); ++j)
        v.data<float>()[j] += (v_first.data<float>()[j] - v.data<float>()[j]) * mix.data<float>()[j];
    }
    const Tensor a = map_elements(w.a_lora(add_scaled(x, d, w.x_a), identity), sigmoidf);
    const Tensor g = w.g_lora(add_scaled(x, d, w.x_g), sigmoidf);
    const Tensor kk = normalize_heads(multiply(k.clone(), w.k_k), dk);
    const Tensor kk_a = multiply(kk.clone(), a), minus_kk = map_elements(kk.clone(), [](float z) { return -z; });
    for (std::int64_t j = 0; j < k.numel(); ++j)  // k * (1 + (a - 1) * k_a)
      k.data<float>()[j] *= 1 + (a.data<float>()[j] - 1) * w.k_a.data<float>()[j % config_.hidden];
    const Shape heads_k{B, L, heads, dk};
    const Tensor carried = state ? (*state)[kWkvState] : Tensor{}, rh = r.view(heads_k), wh = log_decay.view(heads_k),
                 kh = k.view(heads_k), vh = v.view({B, L, heads, dv}), ah = minus_kk.view(heads_k), bh = kk_a.view(heads_k);
    // One token steps the state; longer inputs run the chunked form.
    const Wkv7Result wkv = L == 1 ? wkv7_recurrent(rh, wh, kh, vh, ah, bh, carried) : wkv7(rh, wh, kh, vh, ah, bh, carried);
    if (state) (*state)[kWkvState] = wkv.final_state;
    Tensor o = group_norm(wkv.o.view({B, L, V}), heads, w.g_norm.weight, w.g_norm.bias, double(dk) * config_.eps);
    // The bonus: (sum over the head of r * k * r_k) * v, then the gate.
    for (std::int64_t row = 0; row < B * L * heads; ++row) {
      float bonus = 0;
      for (std::int64_t j = 0; j < dk; ++j)
        bonus += r.data<float>()[row * dk + j] * k.data<float>()[row * dk + j] * w.r_k.data<float>()[(row % heads) * dk + j];
      for (std::int64_t j = 0; j < dv; ++j) {
        const std::int64_t e = row * dv + j;
        o.data<float>()[e] = (o.data<float>()[e] + bonus * v.data<float>()[e]) * g.data<float>()[e];
      }
    }
    add_into(h, linear(o, w.o));
  }

  void channel_mix(const LayerWeights& w, Tensor& h, const Tensor& x, std::vector<Tensor>* state) const {
    const Tensor d = token_delta(x, state ? &(*state)[kFfnShift] : nullptr);
    const Tensor key = map_elements(linear(add_scaled(x, d, w.ffn_x_k), w.ffn_key), [](float z) { return z > 0 ? z * z : 0.0f; });
    add_into(h, linear(key, w.ffn_value));
  }

  Config config_;
  FlaEnds ends_;
  std::vector<LayerWeights> layers_;
};

}  // namespace

}  // namespace subq::recurrent

namespace subq::hybrid {

std::unique_ptr<Architecture> load_rwkv7(Checkpoint& checkpoint) { return std::make_unique<recurrent::Rwkv7>(checkpoint); }

}  // namespace subq::hybrid
