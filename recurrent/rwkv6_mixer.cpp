#include "recurrent/rwkv6_mixer.hpp"

#include "core/check.hpp"
#include "core/dense.hpp"
#include "core/elementwise.hpp"
#include "recurrent/token_shift.hpp"
#include "recurrent/wkv6.hpp"
#include "recurrent/wkv_checks.hpp"

namespace subq::recurrent {

Rwkv6TimeMix Rwkv6TimeMix::load(Checkpoint& ck, const std::string& prefix, const Rwkv6MixerConfig& c) {
  auto take = [&](const std::string& name, const Shape& shape) { return ck.take(prefix + name, shape); };
  auto matrix = [&](const std::string& name, const Shape& shape) { return ck.take_matrix(prefix + name, shape); };
  const std::int64_t H = c.hidden, K = c.key_dim, V = c.value_dim, R = c.proj_rank, G = c.gate_rank;
  detail::check_wkv_heads_fit(prefix, ck.device(), K / c.heads, V / c.heads);
  Rwkv6TimeMix m;
  m.config_ = c;
  m.mu_ = take("x_proj.0.mu", {H});
  m.lerp_down_ = take("x_proj.0.linear.weight", {5 * R, H});
  m.lerp_up_ = take("x_proj.2.weight", {H, 5 * R});
  m.x_bias_ = take("x_bias", {5, H});
  m.r_ = matrix("r_proj.linear.weight", {K, H});
  m.w_down_ = take("w_proj.linear.lora.0.weight", {G, H});
  m.w_up_ = take("w_proj.linear.lora.2.weight", {K, G});
  m.w_bias_ = take("w_proj.linear.lora.2.bias", {K});
  m.k_ = matrix("k_proj.linear.weight", {K, H});
  m.v_ = matrix("v_proj.linear.weight", {V, H});
  m.g_ = matrix("g_proj.linear.weight", {V, H});
  m.bonus_ = take("bonus", {c.heads, K / c.heads});
  m.g_norm_weight_ = ck.take_norm(prefix + "g_norm.weight", {V});
  m.g_norm_bias_ = take("g_norm.bias", {V});
  m.o_ = matrix("o_proj.weight", {H, V});
  return m;
}

std::vector<Tensor> Rwkv6TimeMix::lerp_coefficients(const Tensor& x, const Tensor& d) const {
  const std::int64_t R = config_.proj_rank;
  const Tensor low = activate(linear(add_scaled(x, d, mu_), lerp_down_), Activation::Tanh);
  std::vector<Tensor> m;
  for (std::int64_t n = 0; n < 5; ++n)
    m.push_back(linear(low.slice(2, n * R, (n + 1) * R), lerp_up_.slice(1, n * R, (n + 1) * R), x_bias_.select(0, n)));
  return m;
}

Tensor Rwkv6TimeMix::forward(const Tensor& x, MixerState* state, MixerContext&) const {
  const Rwkv6MixerConfig& c = config_;
  const std::int64_t B = x.size(0), L = x.size(1), heads = c.heads, dk = c.key_dim / heads, dv = c.value_dim / heads;
  const Tensor d = token_delta(x, state ? &(*state)[kShiftState] : nullptr);
  const std::vector<Tensor> m = lerp_coefficients(x, d);
  auto input = [&](int n) { return add_scaled(x, d, m[std::size_t(n)]); };  // x + d * m_n
  const Tensor r = linear(input(0), r_).view({B, L, heads, dk});
  const Tensor decay_low = activate(linear(input(1), w_down_), Activation::Tanh);
  const Tensor log_decay = activate(linear(decay_low, w_up_, w_bias_), Activation::NegExp);
  const Tensor k = linear(input(2), k_).view({B, L, heads, dk});
  const Tensor v = linear(input(3), v_).view({B, L, heads, dv});
  const Tensor g = activate(linear(input(4), g_), Activation::Silu);
  const Tensor carried = state ? (*state)[kWkvState] : Tensor{};
  const Wkv6Result wkv = L == 1 && state ? wkv6_recurrent(r, k, v, log_decay.view({B, L, heads, dk}), bonus_, carried)
                                         : wkv6(r, k, v, log_decay.view({B, L, heads, dk}), bonus_, {carried});
  if (state) (*state)[kWkvState] = wkv.final_state;
  const Tensor o = group_norm(wkv.o.view({B, L, c.value_dim}), heads, g_norm_weight_, g_norm_bias_, c.eps);
  return linear(multiply(o, g), o_);
}

std::unique_ptr<Mixer> make_rwkv6_mixer(Checkpoint& checkpoint, const MixerSite& site) {
  const JsonConfig& c = site.config;
  const std::int64_t heads = c.has("rwkv6_num_heads") ? c.get_int("rwkv6_num_heads") : c.get_int("num_attention_heads");
  const auto key = std::int64_t(double(site.hidden) * c.get_double("rwkv6_expand_k", 0.5));
  const auto value = std::int64_t(double(site.hidden) * c.get_double("rwkv6_expand_v", 1.0));
  SUBQ_CHECK(heads >= 1 && key > 0 && value > 0 && key % heads == 0 && value % heads == 0,
             "{}: rwkv6_num_heads {} must divide the key width {} and the value width {}", c.source(), heads, key,
             value);
  const Rwkv6MixerConfig config{site.hidden,
                                heads,
                                key,
                                value,
                                c.get_int("rwkv6_proj_low_rank_dim", 32),
                                c.get_int("rwkv6_gate_low_rank_dim", 64),
                                site.eps};
  return std::make_unique<Rwkv6TimeMix>(Rwkv6TimeMix::load(checkpoint, site.prefix, config));
}

}  // namespace subq::recurrent
