#include "attention/attention_mixer.hpp"

#include <cmath>

#include "attention/attention.hpp"
#include "core/check.hpp"
#include "core/dense.hpp"

namespace subq::attention {

namespace {

// The state's slots: the buffers, and the steps they hold (an int64 on the CPU).
enum Slot : std::size_t { kKeys = 0, kValues = 1, kHeld = 2 };

// With a window, the cache keeps the last window - 1 steps; it drops the older ones only once it
// holds twice that, so that compacting costs O(1) per token.
void drop_outside_window(MixerState& state, const Tensor& keys, const Tensor& values, std::int64_t window) {
  const std::int64_t held = keys.size(1), keep = window - 1;
  if (held <= 2 * keep) return;
  state[kKeys] = keep > 0 ? keys.slice(1, held - keep, held).contiguous() : Tensor{};
  state[kValues] = keep > 0 ? values.slice(1, held - keep, held).contiguous() : Tensor{};
  state[kHeld].data<std::int64_t>()[0] = keep;
}

}  // namespace

AttentionMixer AttentionMixer::load(Checkpoint& ck, const std::string& prefix, const AttentionMixerConfig& c) {
  const std::int64_t H = c.hidden, d = H / c.heads;
  if (ck.device().is_cuda())
    SUBQ_CHECK(d <= cuda_max_head_size(), "{}: attention heads of {} on {}: the CUDA kernel takes head sizes up to {}",
               prefix, d, to_string(ck.device()), cuda_max_head_size());
  AttentionMixer m;
  m.config_ = c;
  m.q_ = ck.take_matrix(prefix + "q_proj.weight", {c.heads * d, H});
  m.k_ = ck.take_matrix(prefix + "k_proj.weight", {c.kv_heads * d, H});
  m.v_ = ck.take_matrix(prefix + "v_proj.weight", {c.kv_heads * d, H});
  m.o_ = ck.take_matrix(prefix + "o_proj.weight", {H, c.heads * d});
  if (c.output_bias) m.o_bias_ = ck.take(prefix + "o_proj.bias", {H});
  return m;
}

Tensor AttentionMixer::forward(const Tensor& x, MixerState* state, MixerContext& context) const {
  const AttentionMixerConfig& c = config_;
  const std::int64_t B = x.size(0), L = x.size(1), d = c.hidden / c.heads;
  Tensor q = linear(x, q_).view({B, L, c.heads, d});
  Tensor k = linear(x, k_).view({B, L, c.kv_heads, d}), v = linear(x, v_).view({B, L, c.kv_heads, d});
  if (c.rope_theta > 0)
    q = rotary(q, context.position, c.rope_theta, c.rotary_dims),
    k = rotary(k, context.position, c.rope_theta, c.rotary_dims);
  if (state) {
    Tensor& held = (*state)[kHeld];
    if (!held.defined()) held = Tensor::from_vector<std::int64_t>({context.position}, {1});
    k = append_time((*state)[kKeys], held.data<std::int64_t>()[0], k);
    v = append_time((*state)[kValues], held.data<std::int64_t>()[0], v);
    held.data<std::int64_t>()[0] = k.size(1);
  }
  const Tensor o = causal_attention(q, k, v, 1.0 / std::sqrt(double(d)), c.window);
  if (state && c.window > 0) drop_outside_window(*state, k, v, c.window);
  return linear(o.view({B, L, c.hidden}), o_, o_bias_);
}

Tensor AttentionMixer::forward_packed(const Tensor& x, const Packing& packing, MixerContext&) const {
  const AttentionMixerConfig& c = config_;
  const std::int64_t T = x.size(1), d = c.hidden / c.heads;
  const Tensor q = linear(x, q_).view({1, T, c.heads, d});
  const Tensor k = linear(x, k_).view({1, T, c.kv_heads, d}), v = linear(x, v_).view({1, T, c.kv_heads, d});
  const Tensor o = Tensor::empty(q.shape(), DType::F32, x.device());
  for (std::int64_t i = 0; i < packing.count(); ++i) {
    const std::int64_t at = packing.offset(i), end = at + packing.length(i);
    Tensor qi = q.slice(1, at, end), ki = k.slice(1, at, end);
    if (c.rope_theta > 0)
      qi = rotary(qi, 0, c.rope_theta, c.rotary_dims), ki = rotary(ki, 0, c.rope_theta, c.rotary_dims);
    o.slice(1, at, end)
        .copy_from(causal_attention(qi, ki, v.slice(1, at, end), 1.0 / std::sqrt(double(d)), c.window).contiguous());
  }
  return linear(o.view({1, T, c.hidden}), o_, o_bias_);
}

namespace {

AttentionMixerConfig read_config(const MixerSite& site) {
  const JsonConfig& c = site.config;
  const std::int64_t heads = c.get_int("num_attention_heads"), kv_heads = c.get_int("num_key_value_heads", heads);
  SUBQ_CHECK(heads >= 1 && site.hidden % heads == 0 && kv_heads >= 1 && heads % kv_heads == 0,
             "{}: num_attention_heads {} must divide hidden_size {} and be a multiple of num_key_value_heads {}",
             c.source(), heads, site.hidden, kv_heads);
  return {site.hidden, heads, kv_heads, c.get_double("rope_theta", 0.0)};
}

}  // namespace

std::unique_ptr<Mixer> make_attention_mixer(Checkpoint& checkpoint, const MixerSite& site) {
  return std::make_unique<AttentionMixer>(AttentionMixer::load(checkpoint, site.prefix, read_config(site)));
}

std::unique_ptr<Mixer> make_local_attention_mixer(Checkpoint& checkpoint, const MixerSite& site) {
  AttentionMixerConfig config = read_config(site);
  config.window = site.config.get_int("local_attention_window", 2048);
  SUBQ_CHECK(config.window >= 1, "{}: local_attention_window: expected >= 1 keys, found {}", site.config.source(),
             config.window);
  return std::make_unique<AttentionMixer>(AttentionMixer::load(checkpoint, site.prefix, config));
}

}  // namespace subq::attention
