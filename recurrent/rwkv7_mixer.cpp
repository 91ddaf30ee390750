#include "recurrent/rwkv7_mixer.hpp"

#include <algorithm>
#include <cmath>

#include "core/check.hpp"
#include "core/dense.hpp"
#include "core/elementwise.hpp"
#include "recurrent/rwkv7_mixer_cuda.hpp"
#include "recurrent/token_shift.hpp"
#include "recurrent/wkv7.hpp"
#include "recurrent/wkv_checks.hpp"

namespace subq::recurrent {

namespace {

// Each piece runs on its input's device (check_float32_operands): the CUDA launcher
// (recurrent/rwkv7_mixer.cu) there, the loop here on the CPU; each writes its first operand.

// Per group of d: x / max(|x|, 1e-12), torch's F.normalize over the last dimension of (..., heads, d).
Tensor normalize_groups(Tensor x, std::int64_t d) {
  check_float32_operands("normalize_groups", x, {}, true);
  if (x.device().is_cuda()) {
    launch_on_cuda("normalize_groups", x.device(),
                   [&] { return detail::launch_normalize_groups(x.data<float>(), x.numel(), d); });
    return x;
  }
  float* p = x.data<float>();
  for (std::int64_t g = 0; g < x.numel() / d; ++g) {
    float sum = 0;
    for (std::int64_t i = 0; i < d; ++i) sum += p[g * d + i] * p[g * d + i];
    const float scale = 1.0f / std::max(std::sqrt(sum), 1e-12f);
    for (std::int64_t i = 0; i < d; ++i) p[g * d + i] *= scale;
  }
  return x;
}

// v += (target - v) * weight, in place (torch.lerp's form for weights below one half).
void lerp_toward(Tensor& v, const Tensor& target_in, const Tensor& weight_in) {
  const Tensor target = target_in.contiguous(), weight = weight_in.contiguous();
  check_float32_operands("lerp_toward", v, {{"target", &target}, {"weight", &weight}}, true);
  check_shape("lerp_toward", "target", target, v.shape());
  check_shape("lerp_toward", "weight", weight, v.shape());
  if (v.device().is_cuda()) {
    launch_on_cuda("lerp_toward", v.device(), [&] {
      return detail::launch_lerp_toward(v.data<float>(), target.data<float>(), weight.data<float>(), v.numel());
    });
    return;
  }
  float* p = v.data<float>();
  const float *t = target.data<float>(), *w = weight.data<float>();
  for (std::int64_t j = 0; j < v.numel(); ++j) p[j] += (t[j] - p[j]) * w[j];
}

// k *= 1 + (a - 1) * k_a, k_a (hidden) broadcast over the rows: the key's replacement share.
void key_update(Tensor& k, const Tensor& a_in, const Tensor& k_a) {
  const Tensor a = a_in.contiguous();
  check_float32_operands("key_update", k, {{"a", &a}, {"k_a", &k_a}}, true);
  const std::int64_t hidden = k_a.numel();
  if (k.device().is_cuda()) {
    launch_on_cuda("key_update", k.device(), [&] {
      return detail::launch_key_update(k.data<float>(), a.data<float>(), k_a.data<float>(), k.numel(), hidden);
    });
    return;
  }
  float* p = k.data<float>();
  const float *ap = a.data<float>(), *share = k_a.data<float>();
  for (std::int64_t j = 0; j < k.numel(); ++j) p[j] *= 1 + (ap[j] - 1) * share[j % hidden];
}

}  // namespace

Tensor Rwkv7TimeMix::LoRA::operator()(const Tensor& x, std::optional<Activation> activation) const {
  const Tensor hidden = linear(x, down);
  return linear(activation ? activate(hidden, *activation) : hidden, up, bias);
}

Rwkv7TimeMix Rwkv7TimeMix::load(Checkpoint& ck, const std::string& prefix, const Rwkv7MixerConfig& c) {
  auto take = [&](const std::string& name, const Shape& shape) { return ck.take(prefix + name, shape); };
  auto matrix = [&](const std::string& name, const Shape& shape) { return ck.take_matrix(prefix + name, shape); };
  auto lora = [&](const std::string& name, std::int64_t rank, std::int64_t out, bool bias) {
    const std::string p = name + ".lora.";
    const std::int64_t R = rank > 0 ? rank : ck.shape(prefix + p + "0.weight").at(0);
    return LoRA{take(p + "0.weight", {R, c.hidden}), take(p + "2.weight", {out, R}), bias ? take(p + "2.bias", {out}) : Tensor{}};
  };
  const std::int64_t H = c.hidden, V = c.value_dim;
  detail::check_wkv_heads_fit(prefix, ck.device(), c.head_dim, V / c.heads);
  Rwkv7TimeMix m;
  m.config_ = c;
  for (auto [name, t] : {std::pair{"x_r", &m.x_r_}, std::pair{"x_w", &m.x_w_}, std::pair{"x_k", &m.x_k_},
                         std::pair{"x_v", &m.x_v_}, std::pair{"x_a", &m.x_a_}, std::pair{"x_g", &m.x_g_}})
    *t = take(name, {1, 1, H});
  m.k_k_ = take("k_k", {H});
  m.k_a_ = take("k_a", {H});
  m.r_k_ = take("r_k", {c.heads, c.head_dim});
  m.r_ = matrix("r_proj.weight", {H, H});
  m.k_ = matrix("k_proj.weight", {H, H});
  m.v_ = matrix("v_proj.weight", {V, H});
  m.o_ = matrix("o_proj.weight", {H, V});
  m.w_lora_ = lora("w_lora", c.w_rank, H, true);
  if (!c.first) m.v_lora_ = lora("v_lora", c.v_rank, V, true);
  m.a_lora_ = lora("a_lora", c.a_rank, H, true);
  m.g_lora_ = lora("g_lora", c.g_rank, V, false);
  m.g_norm_weight_ = ck.take_norm(prefix + "g_norm.weight", {V});
  m.g_norm_bias_ = take("g_norm.bias", {V});
  return m;
}

Tensor Rwkv7TimeMix::forward(const Tensor& x, MixerState* state, MixerContext& context) const {
  const Rwkv7MixerConfig& c = config_;
  const std::int64_t B = x.size(0), L = x.size(1), heads = c.heads, dk = c.head_dim, dv = c.value_dim / heads;
  const Tensor d = token_delta(x, state ? &(*state)[kShiftState] : nullptr);
  const Tensor r = linear(add_scaled(x, d, x_r_), r_);
  const Tensor log_decay = activate(w_lora_(add_scaled(x, d, x_w_), Activation::Tanh), Activation::Rwkv7Decay);
  Tensor k = linear(add_scaled(x, d, x_k_), k_);
  const Tensor xv = add_scaled(x, d, x_v_);
  Tensor v = linear(xv, v_);
  if (c.first) {
    context.v_first = v;
  } else {  // v + (v_first - v) * sigmoid(v_lora(x_v))
    lerp_toward(v, context.v_first, activate(v_lora_(xv, std::nullopt), Activation::Sigmoid));
  }
  const Tensor a = activate(a_lora_(add_scaled(x, d, x_a_), std::nullopt), Activation::Sigmoid);
  const Tensor g = g_lora_(add_scaled(x, d, x_g_), Activation::Sigmoid);
  const Tensor kk = normalize_groups(multiply(k.clone(), k_k_), dk);
  const Tensor kk_a = multiply(kk.clone(), a), minus_kk = scale(kk, -1.0);
  key_update(k, a, k_a_);
  const Shape heads_k{B, L, heads, dk};
  const Tensor carried = state ? (*state)[kWkvState] : Tensor{}, rh = r.view(heads_k), wh = log_decay.view(heads_k),
               kh = k.view(heads_k), vh = v.view({B, L, heads, dv}), ah = minus_kk.view(heads_k),
               bh = kk_a.view(heads_k);
  // One token steps the state; longer inputs run the chunked form.
  const Wkv7Result wkv =
      L == 1 ? wkv7_recurrent(rh, wh, kh, vh, ah, bh, carried) : wkv7(rh, wh, kh, vh, ah, bh, {carried});
  if (state) (*state)[kWkvState] = wkv.final_state;
  Tensor o = group_norm(wkv.o.view({B, L, c.value_dim}), heads, g_norm_weight_, g_norm_bias_, double(dk) * c.eps);
  add_bonus_and_gate(o, r, k, v, g);
  return linear(o, o_);
}

void Rwkv7TimeMix::add_bonus_and_gate(Tensor& o, const Tensor& r, const Tensor& k, const Tensor& v, const Tensor& g) const {
  const std::int64_t heads = config_.heads, dk = config_.head_dim, dv = config_.value_dim / heads, rows = o.numel() / dv;
  const Tensor rc = r.contiguous(), kc = k.contiguous(), vc = v.contiguous(), gc = g.contiguous();
  check_float32_operands("add_bonus_and_gate", o, {{"r", &rc}, {"k", &kc}, {"v", &vc}, {"g", &gc}, {"r_k", &r_k_}},
                         true);
  const float *rp = rc.data<float>(), *kp = kc.data<float>(), *vp = vc.data<float>(), *gp = gc.data<float>(),
              *r_k = r_k_.data<float>();
  float* op = o.data<float>();
  if (o.device().is_cuda()) {
    launch_on_cuda("add_bonus_and_gate", o.device(),
                   [&] { return detail::launch_bonus_and_gate(op, rp, kp, vp, gp, r_k, rows, heads, dk, dv); });
    return;
  }
  for (std::int64_t row = 0; row < rows; ++row) {  // row: (batch, step, head)
    float bonus = 0;
    for (std::int64_t j = 0; j < dk; ++j) bonus += rp[row * dk + j] * kp[row * dk + j] * r_k[(row % heads) * dk + j];
    for (std::int64_t j = 0; j < dv; ++j) op[row * dv + j] = (op[row * dv + j] + bonus * vp[row * dv + j]) * gp[row * dv + j];
  }
}

std::unique_ptr<Mixer> make_rwkv7_mixer(Checkpoint& checkpoint, const MixerSite& site) {
  const JsonConfig& c = site.config;
  const std::int64_t H = site.hidden, head_dim = c.get_int("rwkv7_head_dim", 64),
                     value = c.get_int("rwkv7_value_dim", H);
  SUBQ_CHECK(head_dim >= 1 && H % head_dim == 0 && value % (H / head_dim) == 0,
             "{}: rwkv7_head_dim {} must divide hidden_size {}, and the heads rwkv7_value_dim {}", c.source(), head_dim,
             H, value);
  Rwkv7MixerConfig config{H, H / head_dim, head_dim, value, site.eps, site.first_of_kind};
  config.w_rank = c.get_int("rwkv7_decay_low_rank_dim", 32), config.v_rank = c.get_int("rwkv7_v_low_rank_dim", 32);
  config.a_rank = c.get_int("rwkv7_a_low_rank_dim", 32), config.g_rank = c.get_int("rwkv7_gate_low_rank_dim", 64);
  SUBQ_CHECK(config.w_rank > 0 && config.v_rank > 0 && config.a_rank > 0 && config.g_rank > 0,
             "{}: the rwkv7 LoRA ranks must be > 0", c.source());
  return std::make_unique<Rwkv7TimeMix>(Rwkv7TimeMix::load(checkpoint, site.prefix, config));
}

}  // namespace subq::recurrent
