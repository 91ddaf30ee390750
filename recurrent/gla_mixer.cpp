#include "recurrent/gla_mixer.hpp"

#include <cmath>

#include "core/check.hpp"
#include "core/dense.hpp"
#include "core/elementwise.hpp"
#include "core/row_pass.hpp"
#include "recurrent/gla.hpp"
#include "recurrent/gla_passes.hpp"

namespace subq::recurrent {

GlaMixer GlaMixer::load(Checkpoint& ck, const std::string& prefix, const GlaMixerConfig& c) {
  GlaMixer m;
  m.config_ = c;
  const std::int64_t H = c.hidden;
  auto matrix = [&](const std::string& name, const Shape& shape) { return ck.take_matrix(prefix + name, shape); };
  m.q_ = matrix("q_proj.weight", {c.key_dim, H});
  m.k_ = matrix("k_proj.weight", {c.key_dim, H});
  m.v_ = matrix("v_proj.weight", {c.value_dim, H});
  m.g_ = matrix("g_proj.weight", {c.value_dim, H});
  m.gk_down_ = matrix("gk_proj.0.weight", {c.gate_rank, H});
  m.gk_up_ = matrix("gk_proj.1.weight", {c.key_dim, c.gate_rank});
  m.gk_bias_ = ck.take(prefix + "gk_proj.1.bias", {c.key_dim});
  m.g_norm_ = ck.take_norm(prefix + "g_norm_swish_gate.weight", {c.value_dim / c.heads});
  m.o_ = matrix("o_proj.weight", {H, c.value_dim});
  return m;
}

Tensor GlaMixer::forward(const Tensor& x, MixerState* state, MixerContext&) const {
  const GlaMixerConfig& c = config_;
  const std::int64_t B = x.size(0), L = x.size(1), dk = c.key_dim / c.heads, dv = c.value_dim / c.heads;
  const Tensor q = linear(x, q_).view({B, L, c.heads, dk}), k = linear(x, k_).view({B, L, c.heads, dk});
  const Tensor v = linear(x, v_).view({B, L, c.heads, dv});
  const Tensor gk = linear(linear(x, gk_down_), gk_up_, gk_bias_);
  subq::detail::run_row_pass("GLA layer", x.device(),
                             detail::GlaLogGates<float>{gk.data<float>(), c.key_dim, float(c.gate_logit_normalizer)},
                             B * L);
  GlaOptions options;
  options.scale = 1 / std::sqrt(double(dk));
  if (state) options.initial_state = (*state)[0];
  const GlaResult r = gla(q, k, v, gk.view({B, L, c.heads, dk}), options);
  if (state) (*state)[0] = r.final_state;
  const Tensor normed = rms_norm(r.o, g_norm_, c.eps).view({B, L, c.value_dim});
  return linear(swish_product(linear(x, g_), normed), o_);
}

GlaMixerConfig read_gla_config(const JsonConfig& c, const std::string& key_prefix, std::int64_t hidden, double eps) {
  const auto key = [&](const char* name) { return key_prefix + name; };
  const std::int64_t heads = c.has(key("num_heads")) ? c.get_int(key("num_heads")) : c.get_int("num_attention_heads");
  const std::int64_t key_dim = std::llround(double(hidden) * c.get_double(key("expand_k"), 0.5));
  const std::int64_t value_dim = std::llround(double(hidden) * c.get_double(key("expand_v"), 1.0));
  const GlaMixerConfig config{hidden,
                              heads,
                              key_dim,
                              value_dim,
                              c.get_int(key("gate_low_rank_dim"), 16),
                              c.get_double(key("gate_logit_normalizer"), 16),
                              eps};
  SUBQ_CHECK(heads >= 1 && key_dim % heads == 0 && value_dim % heads == 0 && config.gate_rank >= 1 &&
                 config.gate_logit_normalizer > 0,
             "{}: {} heads must divide the key width {} and value width {}; the gate's low rank {} and logit "
             "normalizer {} must be > 0",
             c.source(), heads, key_dim, value_dim, config.gate_rank, config.gate_logit_normalizer);
  return config;
}

std::unique_ptr<Mixer> make_gla_mixer(Checkpoint& checkpoint, const MixerSite& site) {
  return std::make_unique<GlaMixer>(
      GlaMixer::load(checkpoint, site.prefix, read_gla_config(site.config, "gla_", site.hidden, site.eps)));
}

}  // namespace subq::recurrent
