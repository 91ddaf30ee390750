#include "recurrent/retention_mixer.hpp"

#include "core/check.hpp"
#include "core/dense.hpp"
#include "core/elementwise.hpp"
#include "recurrent/retention.hpp"

namespace subq::recurrent {

RetentionMixer RetentionMixer::load(Checkpoint& ck, const std::string& prefix, const RetentionMixerConfig& c) {
  RetentionMixer m;
  m.config_ = c;
  const std::int64_t H = c.hidden;
  m.q_ = ck.take_matrix(prefix + "q_proj.weight", {c.key_dim, H});
  m.k_ = ck.take_matrix(prefix + "k_proj.weight", {c.key_dim, H});
  m.v_ = ck.take_matrix(prefix + "v_proj.weight", {c.value_dim, H});
  if (c.output_gate) m.g_ = ck.take_matrix(prefix + "g_proj.weight", {c.value_dim, H});
  m.g_norm_ = ck.take_norm(prefix + "g_norm.weight", {c.value_dim / c.heads});
  m.o_ = ck.take_matrix(prefix + "o_proj.weight", {H, c.value_dim});
  return m;
}

Tensor RetentionMixer::forward(const Tensor& x, MixerState* state, MixerContext& context) const {
  const RetentionMixerConfig& c = config_;
  const std::int64_t B = x.size(0), L = x.size(1), dk = c.key_dim / c.heads, dv = c.value_dim / c.heads;
  const Tensor q = rotary(linear(x, q_).view({B, L, c.heads, dk}), context.position);
  const Tensor k = rotary(linear(x, k_).view({B, L, c.heads, dk}), context.position);
  const Tensor v = linear(x, v_).view({B, L, c.heads, dv});
  const RetentionResult r = retention(q, k, v, {state ? (*state)[0] : Tensor{}});
  if (state) (*state)[0] = r.final_state;
  Tensor o = rms_norm(r.o, g_norm_, c.eps).view({B, L, c.value_dim});
  if (c.output_gate) o = swish_product(linear(x, g_), o);
  return linear(o, o_);
}

std::unique_ptr<Mixer> make_retention_mixer(Checkpoint& checkpoint, const MixerSite& site) {
  const JsonConfig& c = site.config;
  const std::int64_t heads =
      c.has("retention_num_heads") ? c.get_int("retention_num_heads") : c.get_int("num_attention_heads");
  const std::int64_t key = site.hidden * c.get_int("retention_expand_k", 1);
  const std::int64_t value = site.hidden * c.get_int("retention_expand_v", 2);
  SUBQ_CHECK(heads >= 1 && key % heads == 0 && value % heads == 0 && (key / heads) % 2 == 0,
             "{}: retention_num_heads {} must divide the key width {} into even head widths, and the value width {}",
             c.source(), heads, key, value);
  const RetentionMixerConfig config{site.hidden, heads, key, value, site.eps, true};
  return std::make_unique<RetentionMixer>(RetentionMixer::load(checkpoint, site.prefix, config));
}

}  // namespace subq::recurrent
