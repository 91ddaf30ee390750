#include "recurrent/delta_net_mixer.hpp"

#include <cmath>

#include "conv/causal_conv1d.hpp"
#include "core/check.hpp"
#include "core/dense.hpp"
#include "core/elementwise.hpp"
#include "core/row_pass.hpp"
#include "recurrent/delta_net_passes.hpp"
#include "recurrent/delta_rule.hpp"

namespace subq::recurrent {

namespace {

constexpr const char* kLayer = "DeltaNet layer";
enum Slot : std::size_t { kQConv, kKConv, kVConv, kRuleState };

// silu(short_conv(x)) for x (batch, length, channels), continuing from and leaving the inputs in `slot`.
Tensor short_conv(const Tensor& x, const Tensor& weight, MixerState* state, Slot slot) {
  const conv::CausalConv1dResult r =
      conv::causal_conv1d(x.transpose(1, 2), weight, {}, Activation::Silu, state ? (*state)[slot] : Tensor{});
  if (state) (*state)[slot] = r.final_state;
  return r.out.transpose(1, 2).contiguous();
}

// (batch, length, heads, d) -> (batch, length, heads * group, d): each head read by `group` value heads.
Tensor repeat_heads(const Tensor& t, std::int64_t group) {
  if (group == 1) return t;
  const std::int64_t B = t.size(0), L = t.size(1), H = t.size(2), d = t.size(3);
  return t.view({B, L, H, 1, d}).expand({B, L, H, group, d}).contiguous().view({B, L, H * group, d});
}

}  // namespace

DeltaNetMixer DeltaNetMixer::load(Checkpoint& ck, const std::string& prefix, const DeltaNetMixerConfig& c) {
  DeltaNetMixer m;
  m.config_ = c;
  const std::int64_t H = c.hidden, key = c.heads * c.head_k, value = c.v_heads * c.head_v;
  auto matrix = [&](const std::string& name, const Shape& shape) { return ck.take_matrix(prefix + name, shape); };
  auto conv = [&](const std::string& name, std::int64_t channels) {
    return ck.take(prefix + name, {channels, 1, c.conv_size}).view({channels, c.conv_size});
  };
  m.q_ = matrix("q_proj.weight", {key, H});
  m.k_ = matrix("k_proj.weight", {key, H});
  m.v_ = matrix("v_proj.weight", {value, H});
  m.b_ = matrix("b_proj.weight", {c.v_heads, H});
  m.q_conv_ = conv("q_conv1d.weight", key);
  m.k_conv_ = conv("k_conv1d.weight", key);
  m.v_conv_ = conv("v_conv1d.weight", value);
  if (c.gated) {
    m.a_ = matrix("a_proj.weight", {c.v_heads, H});
    m.A_log_ = ck.take(prefix + "A_log", {c.v_heads});
    m.dt_bias_ = ck.take(prefix + "dt_bias", {c.v_heads});
  }
  if (c.output_gate) m.g_ = matrix("g_proj.weight", {value, H});
  m.o_norm_ = ck.take_norm(prefix + "o_norm.weight", {c.head_v});
  m.o_ = matrix("o_proj.weight", {H, value});
  return m;
}

Tensor DeltaNetMixer::forward(const Tensor& x, MixerState* state, MixerContext&) const {
  const DeltaNetMixerConfig& c = config_;
  const std::int64_t B = x.size(0), L = x.size(1), group = c.v_heads / c.heads;
  const Tensor q = short_conv(linear(x, q_), q_conv_, state, kQConv).view({B, L, c.heads, c.head_k});
  const Tensor k = short_conv(linear(x, k_), k_conv_, state, kKConv).view({B, L, c.heads, c.head_k});
  const Tensor v = short_conv(linear(x, v_), v_conv_, state, kVConv).view({B, L, c.v_heads, c.head_v});
  const Tensor b_raw = linear(x, b_), a_raw = c.gated ? linear(x, a_) : Tensor{};
  const Tensor beta = Tensor::empty({B, L, c.v_heads}, DType::F32, x.device());
  DeltaRuleOptions options;
  options.scale = 1 / std::sqrt(double(c.head_k));
  options.l2_normalize = true;
  if (c.gated) options.g = Tensor::empty({B, L, c.v_heads}, DType::F32, x.device());
  subq::detail::run_row_pass(
      kLayer, x.device(),
      detail::DeltaNetGates<float>{c.gated ? a_raw.data<float>() : nullptr, b_raw.data<float>(),
                                   c.gated ? A_log_.data<float>() : nullptr, c.gated ? dt_bias_.data<float>() : nullptr,
                                   beta.data<float>(), c.gated ? options.g.data<float>() : nullptr, c.v_heads,
                                   c.allow_neg_eigval ? 2.0f : 1.0f},
      B * L);
  if (state) options.initial_state = (*state)[kRuleState];
  const DeltaRuleResult r = delta_rule(repeat_heads(q, group), repeat_heads(k, group), v, beta, options);
  if (state) (*state)[kRuleState] = r.final_state;
  Tensor o = rms_norm(r.o, o_norm_, c.eps).view({B, L, c.v_heads * c.head_v});
  if (c.output_gate) o = swish_product(linear(x, g_), o);
  return linear(o, o_);
}

DeltaNetMixerConfig read_delta_net_config(const JsonConfig& c, const std::string& key_prefix, std::int64_t hidden,
                                          double eps, bool gated) {
  const auto key = [&](const char* name) { return key_prefix + name; };
  const std::int64_t H = hidden;
  const std::int64_t heads = c.has(key("num_heads")) ? c.get_int(key("num_heads")) : c.get_int("num_attention_heads");
  SUBQ_CHECK(heads >= 1, "{}: {}: expected >= 1 heads, found {}", c.source(), key("num_heads"), heads);
  DeltaNetMixerConfig config{H,
                             heads,
                             heads,
                             0,
                             0,
                             c.get_int(key("conv_size"), 4),
                             eps,
                             gated,
                             c.get_bool(key("use_gate"), gated),
                             c.get_bool(key("allow_neg_eigval"), false)};
  if (gated) {  // sized by heads: head_dim and expand_v, as fla's GatedDeltaNet
    config.head_k = c.get_int(key("head_dim"), H / heads);
    config.head_v = std::int64_t(std::llround(double(config.head_k) * c.get_double(key("expand_v"), 2.0)));
    config.v_heads = c.is_null(key("num_v_heads")) ? heads : c.get_int(key("num_v_heads"));
  } else {  // sized by widths: expand_k and expand_v of the hidden size, as fla's DeltaNet
    const std::int64_t key_dim = std::llround(double(H) * c.get_double(key("expand_k"), 1.0));
    const std::int64_t value_dim = std::llround(double(H) * c.get_double(key("expand_v"), 1.0));
    SUBQ_CHECK(key_dim % heads == 0 && value_dim % heads == 0,
               "{}: {} heads do not divide the key width {} and value width {}", c.source(), heads, key_dim, value_dim);
    config.head_k = key_dim / heads, config.head_v = value_dim / heads;
  }
  SUBQ_CHECK(config.head_k >= 1 && config.head_v >= 1 && config.v_heads % heads == 0 && config.conv_size >= 1,
             "{}: heads of d_k {} and d_v {}, {} value heads over {} heads and convolutions of {} do not fit",
             c.source(), config.head_k, config.head_v, config.v_heads, heads, config.conv_size);
  return config;
}

std::unique_ptr<Mixer> make_delta_net_mixer(Checkpoint& checkpoint, const MixerSite& site) {
  return std::make_unique<DeltaNetMixer>(DeltaNetMixer::load(
      checkpoint, site.prefix, read_delta_net_config(site.config, "delta_net_", site.hidden, site.eps, false)));
}

std::unique_ptr<Mixer> make_gated_deltanet_mixer(Checkpoint& checkpoint, const MixerSite& site) {
  return std::make_unique<DeltaNetMixer>(DeltaNetMixer::load(
      checkpoint, site.prefix, read_delta_net_config(site.config, "gated_deltanet_", site.hidden, site.eps, true)));
}

}  // namespace subq::recurrent
