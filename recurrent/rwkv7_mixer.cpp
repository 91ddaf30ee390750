#include "recurrent/rwkv7_mixer.hpp"

#include <algorithm>
#include <cmath>

#include "core/dense.hpp"
#include "core/math.hpp"
#include "recurrent/layer_ops.hpp"
#include "recurrent/wkv7.hpp"

namespace subq::recurrent {

namespace {

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

}  // namespace

template <class F>
Tensor Rwkv7TimeMix::LoRA::operator()(const Tensor& x, F activation) const {
  return linear(map_elements(linear(x, down), activation), up, bias);
}

Rwkv7TimeMix Rwkv7TimeMix::load(Checkpoint& ck, const std::string& prefix, const Rwkv7MixerConfig& c) {
  auto take = [&](const std::string& name, const Shape& shape) { return ck.take(prefix + name, shape); };
  auto lora = [&](const std::string& name, std::int64_t rank, std::int64_t out, bool bias) {
    const std::string p = name + ".lora.";
    const std::int64_t R = rank > 0 ? rank : ck.shape(prefix + p + "0.weight").at(0);
    return LoRA{take(p + "0.weight", {R, c.hidden}), take(p + "2.weight", {out, R}), bias ? take(p + "2.bias", {out}) : Tensor{}};
  };
  const std::int64_t H = c.hidden, V = c.value_dim;
  Rwkv7TimeMix m;
  m.config_ = c;
  for (auto [name, t] : {std::pair{"x_r", &m.x_r_}, std::pair{"x_w", &m.x_w_}, std::pair{"x_k", &m.x_k_},
                         std::pair{"x_v", &m.x_v_}, std::pair{"x_a", &m.x_a_}, std::pair{"x_g", &m.x_g_}})
    *t = take(name, {1, 1, H});
  m.k_k_ = take("k_k", {H});
  m.k_a_ = take("k_a", {H});
  m.r_k_ = take("r_k", {c.heads, c.head_dim});
  m.r_ = take("r_proj.weight", {H, H});
  m.k_ = take("k_proj.weight", {H, H});
  m.v_ = take("v_proj.weight", {V, H});
  m.o_ = take("o_proj.weight", {H, V});
  m.w_lora_ = lora("w_lora", c.w_rank, H, true);
  if (!c.first) m.v_lora_ = lora("v_lora", c.v_rank, V, true);
  m.a_lora_ = lora("a_lora", c.a_rank, H, true);
  m.g_lora_ = lora("g_lora", c.g_rank, V, false);
  m.g_norm_weight_ = take("g_norm.weight", {V});
  m.g_norm_bias_ = take("g_norm.bias", {V});
  return m;
}

Tensor Rwkv7TimeMix::forward(const Tensor& x, std::vector<Tensor>* state, Tensor& v_first) const {
  const Rwkv7MixerConfig& c = config_;
  const std::int64_t B = x.size(0), L = x.size(1), heads = c.heads, dk = c.head_dim, dv = c.value_dim / heads;
  const Tensor d = token_delta(x, state ? &(*state)[kRwkv7ShiftState] : nullptr);
  const Tensor r = linear(add_scaled(x, d, x_r_), r_);
  const Tensor log_decay = map_elements(w_lora_(add_scaled(x, d, x_w_), [](float z) { return std::tanh(z); }),
                                        [](float z) { return -0.6065306597126334f * sigmoid(z); });
  Tensor k = linear(add_scaled(x, d, x_k_), k_);
  const Tensor xv = add_scaled(x, d, x_v_);
  Tensor v = linear(xv, v_);
  if (c.first) {
    v_first = v;
  } else {  // v + (v_first - v) * sigmoid(v_lora(x_v))
    const Tensor mix = map_elements(v_lora_(xv, identity), sigmoidf);
    for (std::int64_t j = 0; j < v.numel(); ++j)
      v.data<float>()[j] += (v_first.data<float>()[j] - v.data<float>()[j]) * mix.data<float>()[j];
  }
  const Tensor a = map_elements(a_lora_(add_scaled(x, d, x_a_), identity), sigmoidf);
  const Tensor g = g_lora_(add_scaled(x, d, x_g_), sigmoidf);
  const Tensor kk = normalize_heads(multiply(k.clone(), k_k_), dk);
  const Tensor kk_a = multiply(kk.clone(), a), minus_kk = map_elements(kk.clone(), [](float z) { return -z; });
  for (std::int64_t j = 0; j < k.numel(); ++j)  // k * (1 + (a - 1) * k_a)
    k.data<float>()[j] *= 1 + (a.data<float>()[j] - 1) * k_a_.data<float>()[j % c.hidden];
  const Shape heads_k{B, L, heads, dk};
  const Tensor carried = state ? (*state)[kRwkv7WkvState] : Tensor{}, rh = r.view(heads_k), wh = log_decay.view(heads_k),
               kh = k.view(heads_k), vh = v.view({B, L, heads, dv}), ah = minus_kk.view(heads_k), bh = kk_a.view(heads_k);
  // One token steps the state; longer inputs run the chunked form.
  const Wkv7Result wkv = L == 1 ? wkv7_recurrent(rh, wh, kh, vh, ah, bh, carried) : wkv7(rh, wh, kh, vh, ah, bh, carried);
  if (state) (*state)[kRwkv7WkvState] = wkv.final_state;
  Tensor o = group_norm(wkv.o.view({B, L, c.value_dim}), heads, g_norm_weight_, g_norm_bias_, double(dk) * c.eps);
  add_bonus_and_gate(o, r, k, v, g);
  return linear(o, o_);
}

void Rwkv7TimeMix::add_bonus_and_gate(Tensor& o, const Tensor& r, const Tensor& k, const Tensor& v, const Tensor& g) const {
  const std::int64_t heads = config_.heads, dk = config_.head_dim, dv = config_.value_dim / heads;
  for (std::int64_t row = 0; row < o.numel() / dv; ++row) {  // row: (batch, step, head)
    float bonus = 0;
    for (std::int64_t j = 0; j < dk; ++j)
      bonus += r.data<float>()[row * dk + j] * k.data<float>()[row * dk + j] * r_k_.data<float>()[(row % heads) * dk + j];
    for (std::int64_t j = 0; j < dv; ++j) {
      const std::int64_t e = row * dv + j;
      o.data<float>()[e] = (o.data<float>()[e] + bonus * v.data<float>()[e]) * g.data<float>()[e];
    }
  }
}

}  // namespace subq::recurrent
