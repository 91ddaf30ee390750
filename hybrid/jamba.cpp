// Jamba-style hybrids: a stack of pre-norm residual layers, each with a sequence mixer and a
// SwiGLU MLP or a mixture of SwiGLU experts as its feed-forward. Hugging Face JambaForCausalLM
// checkpoints place attention every attn_layer_period layers (at attn_layer_offset), Mamba
// elsewhere, and experts every expert_layer_period layers (at expert_layer_offset); model_type
// "subq_hybrid" describes any stack with one letter per layer instead:
//   "layer_pattern": "MSAR..."   A attention       model.layers.{i}.self_attn.{q,k,v,o}_proj
//                                M Mamba           model.layers.{i}.mamba.*     (Jamba's mamba_* keys)
//                                S Mamba-2 (SSD)   model.layers.{i}.mamba2.*    (mamba2_* keys)
//                                R RetNet          model.layers.{i}.retention.* (retention_* keys)
//                                H Hyena           model.layers.{i}.hyena.*     (hyena_* keys)
//                                4 S4D             model.layers.{i}.s4.*        (s4_* keys)
//                                W RWKV-6          model.layers.{i}.rwkv6.*     (rwkv6_* keys)
//                                K RWKV-4          model.layers.{i}.rwkv4.*     (rwkv4_* keys)
//                                V RWKV-7          model.layers.{i}.rwkv7.*     (rwkv7_* keys; the
//                                                  first V layer's values are the later ones' residual)
//   "feed_forward_pattern": "DEDE..." (D dense MLP, E experts), and "rope_theta" for rotary
//   positions in attention (none by default, as in Jamba), with Jamba's other keys. Each layer:
//   h += mixer(input_layernorm(h));  h += feed_forward(pre_ff_layernorm(h))
// then final_layernorm and lm_head. Attention layers cache their keys and values, Mamba and
// Mamba-2 layers their conv and scan states, RetNet layers their retention state, RWKV layers
// their token shift and WKV state, Hyena and S4D layers
// their inputs so far (Hyena has no recurrent form: a new token reruns it over the history).
#include <cmath>
#include <variant>
#include <vector>

#include "core/check.hpp"
#include "conv/hyena.hpp"
#include "core/dense.hpp"
#include "hybrid/architecture.hpp"
#include "hybrid/attention.hpp"
#include "hybrid/moe.hpp"
#include "recurrent/retention_mixer.hpp"
#include "recurrent/rwkv4_mixer.hpp"
#include "recurrent/rwkv6_mixer.hpp"
#include "recurrent/rwkv7_mixer.hpp"
#include "ssm/mamba2_mixer.hpp"
#include "ssm/s4.hpp"
#include "ssm/mamba_mixer.hpp"

namespace subq::hybrid {

namespace {

struct Config {
  std::int64_t vocab, hidden, intermediate, layers, heads, kv_heads, experts, top_k;
  std::string mixers, feed_forwards;  // per layer: a mixer letter (A, M, S, R); 'E' experts or 'D' dense MLP
  double eps;
  double rope_theta;  // > 0: rotary positions on attention's queries and keys (subq_hybrid only)
  bool tie_embeddings;
  ssm::MambaMixerConfig mamba;
  ssm::Mamba2MixerConfig mamba2;
  recurrent::RetentionMixerConfig retention;
  conv::HyenaOperator::Options hyena;
  ssm::S4Block::Options s4;
  recurrent::Rwkv4MixerConfig rwkv4;
  recurrent::Rwkv6MixerConfig rwkv6;
  recurrent::Rwkv7MixerConfig rwkv7;  // with first = false; the first V layer's is set when loading

  char mixer(std::int64_t i) const { return mixers[std::size_t(i)]; }
  bool moe(std::int64_t i) const { return feed_forwards[std::size_t(i)] == 'E'; }
};

// Jamba's periods and offsets, or subq_hybrid's explicit patterns, as one letter per layer.
void read_layer_kinds(const JsonConfig& c, Config& k) {
  const std::string& src = c.source();
  if (c.get_string("model_type") == "jamba") {
    const std::int64_t ap = c.get_int("attn_layer_period"), ao = c.get_int("attn_layer_offset");
    const std::int64_t ep = c.get_int("expert_layer_period"), eo = c.get_int("expert_layer_offset");
    SUBQ_CHECK(ap >= 1 && ep >= 1, "{}: attn_layer_period and expert_layer_period must be >= 1", src);
    for (std::int64_t i = 0; i < k.layers; ++i) {
      k.mixers += i % ap == ao ? 'A' : 'M';
      k.feed_forwards += k.experts > 1 && i % ep == eo ? 'E' : 'D';
    }
    return;
  }
  k.mixers = c.get_string("layer_pattern");
  k.feed_forwards = c.get_string("feed_forward_pattern", std::string(k.mixers.size(), 'D'));
  SUBQ_CHECK(!k.mixers.empty() && k.mixers.find_first_not_of("AMSRHKWV4") == std::string::npos,
             "{}: layer_pattern '{}': expected letters A (attention), M (Mamba), S (Mamba-2), R (RetNet), H (Hyena), "
             "K (RWKV-4), W (RWKV-6), V (RWKV-7) or 4 (S4D), one per layer", src, k.mixers);
  SUBQ_CHECK(k.feed_forwards.size() == k.mixers.size() && k.feed_forwards.find_first_not_of("DE") == std::string::npos,
             "{}: feed_forward_pattern '{}': expected {} letters D (dense MLP) or E (experts)", src, k.feed_forwards,
             k.mixers.size());
  SUBQ_CHECK(k.layers == std::int64_t(k.mixers.size()), "{}: num_hidden_layers {} but layer_pattern has {} layers", src,
             k.layers, k.mixers.size());
  SUBQ_CHECK(k.experts > 1 || k.feed_forwards.find('E') == std::string::npos,
             "{}: feed_forward_pattern asks for experts but num_experts is {}", src, k.experts);
}

// subq_hybrid's Mamba-2 layers: mamba2_num_heads x mamba2_head_dim inner width (default: the
// hidden size doubled, in heads of 64), mamba2_d_state (64), mamba2_n_groups (1), mamba2_d_conv (4),
// mamba2_chunk_size (256); no dt clamp, conv bias, no projection biases.
ssm::Mamba2MixerConfig read_mamba2(const JsonConfig& c, const Config& k) {
  const std::int64_t head_dim = c.get_int("mamba2_head_dim", 64);
  const std::int64_t heads = c.get_int("mamba2_num_heads", 2 * k.hidden / head_dim), groups = c.get_int("mamba2_n_groups", 1);
  SUBQ_CHECK(heads >= 1 && head_dim >= 1 && groups >= 1 && heads % groups == 0,
             "{}: mamba2_num_heads {} must be a positive multiple of mamba2_n_groups {}", c.source(), heads, groups);
  return {k.hidden, heads * head_dim, c.get_int("mamba2_d_state", 64), c.get_int("mamba2_d_conv", 4), heads, head_dim,
          groups, c.get_int("mamba2_chunk_size", 256), k.eps, 0.0, INFINITY, false, true};
}

// subq_hybrid's RetNet layers: retention_num_heads (num_attention_heads), key and value widths
// hidden * retention_expand_k (1) and * retention_expand_v (2), the swish output gate.
recurrent::RetentionMixerConfig read_retention(const JsonConfig& c, const Config& k) {
  const std::int64_t heads = c.get_int("retention_num_heads", k.heads);
  const std::int64_t key = k.hidden * c.get_int("retention_expand_k", 1), value = k.hidden * c.get_int("retention_expand_v", 2);
  SUBQ_CHECK(heads >= 1 && key % heads == 0 && value % heads == 0 && (key / heads) % 2 == 0,
             "{}: retention_num_heads {} must divide the key width {} into even head widths, and the value width {}",
             c.source(), heads, key, value);
  return {k.hidden, heads, key, value, k.eps, true};
}

// subq_hybrid's Hyena layers: hyena_order (2), hyena_l_max (2048: the longest sequence),
// hyena_emb_dim (3), hyena_filter_order (64: the filter MLP's width), hyena_num_inner_mlps (2).
conv::HyenaOperator::Options read_hyena(const JsonConfig& c, const Config& k) {
  conv::HyenaOperator::Options o;
  o.order = c.get_int("hyena_order", 2), o.l_max = c.get_int("hyena_l_max", 2048), o.d_model = k.hidden;
  o.emb_dim = c.get_int("hyena_emb_dim", 3), o.filter_width = c.get_int("hyena_filter_order", 64);
  o.sine_stages = c.get_int("hyena_num_inner_mlps", 2) + 1;
  return o;
}

// subq_hybrid's RWKV-6 layers: rwkv6_num_heads (num_attention_heads), key and value widths
// hidden * rwkv6_expand_k (0.5) and * rwkv6_expand_v (1), the lerp and decay LoRA ranks
// rwkv6_proj_low_rank_dim (32) and rwkv6_gate_low_rank_dim (64).
recurrent::Rwkv6MixerConfig read_rwkv6(const JsonConfig& c, const Config& k) {
  const std::int64_t heads = c.get_int("rwkv6_num_heads", k.heads);
  const auto key = std::int64_t(double(k.hidden) * c.get_double("rwkv6_expand_k", 0.5));
  const auto value = std::int64_t(double(k.hidden) * c.get_double("rwkv6_expand_v", 1.0));
  SUBQ_CHECK(heads >= 1 && key > 0 && value > 0 && key % heads == 0 && value % heads == 0,
             "{}: rwkv6_num_heads {} must divide the key width {} and the value width {}", c.source(), heads, key, value);
  return {k.hidden, heads, key, value, c.get_int("rwkv6_proj_low_rank_dim", 32), c.get_int("rwkv6_gate_low_rank_dim", 64),
          k.eps};
}

// subq_hybrid's RWKV-7 layers: heads of rwkv7_head_dim (64), value width rwkv7_value_dim (hidden),
// LoRA ranks rwkv7_decay_low_rank_dim (32), rwkv7_v_low_rank_dim (32), rwkv7_a_low_rank_dim (32),
// rwkv7_gate_low_rank_dim (64).
recurrent::Rwkv7MixerConfig read_rwkv7(const JsonConfig& c, const Config& k) {
  const std::int64_t head_dim = c.get_int("rwkv7_head_dim", 64), value = c.get_int("rwkv7_value_dim", k.hidden);
  SUBQ_CHECK(head_dim >= 1 && k.hidden % head_dim == 0 && value % (k.hidden / head_dim) == 0,
             "{}: rwkv7_head_dim {} must divide hidden_size {}, and the heads rwkv7_value_dim {}", c.source(), head_dim,
             k.hidden, value);
  recurrent::Rwkv7MixerConfig r{k.hidden, k.hidden / head_dim, head_dim, value, k.eps, false};
  r.w_rank = c.get_int("rwkv7_decay_low_rank_dim", 32), r.v_rank = c.get_int("rwkv7_v_low_rank_dim", 32);
  r.a_rank = c.get_int("rwkv7_a_low_rank_dim", 32), r.g_rank = c.get_int("rwkv7_gate_low_rank_dim", 64);
  SUBQ_CHECK(r.w_rank > 0 && r.v_rank > 0 && r.a_rank > 0 && r.g_rank > 0, "{}: the rwkv7 LoRA ranks must be > 0",
             c.source());
  return r;
}

// subq_hybrid's S4D layers: s4_d_state (64) states, one of each conjugate pair kept, as s4
// counts them; s4_disc (zoh or bilinear); s4_channels (1).
ssm::S4Block::Options read_s4(const JsonConfig& c, const Config& k) {
  ssm::S4Block::Options o;
  o.disc = ssm::parse_discretization(c.get_string("s4_disc", "zoh"));
  o.d_model = k.hidden, o.d_state = c.get_int("s4_d_state", 64) / 2, o.channels = c.get_int("s4_channels", 1);
  SUBQ_CHECK(o.d_state >= 1 && o.channels >= 1, "{}: s4_d_state must be >= 2 and s4_channels >= 1", c.source());
  return o;
}

Config read_config(const JsonConfig& c) {
  const std::string& src = c.source();
  SUBQ_CHECK(c.get_string("hidden_act", "silu") == "silu", "{}: hidden_act: only silu is supported", src);
  Config k{};
  k.vocab = c.get_int("vocab_size"), k.hidden = c.get_int("hidden_size"), k.intermediate = c.get_int("intermediate_size");
  k.layers = c.has("layer_pattern") ? c.get_int("num_hidden_layers", std::int64_t(c.get_string("layer_pattern").size()))
                                     : c.get_int("num_hidden_layers");
  k.heads = c.get_int("num_attention_heads");
  k.kv_heads = c.get_int("num_key_value_heads", k.heads), k.experts = c.get_int("num_experts", 1);
  k.top_k = c.get_int("num_experts_per_tok", 2);
  k.eps = c.get_double("rms_norm_eps", 1e-6), k.tie_embeddings = c.get_bool("tie_word_embeddings", true);
  k.rope_theta = c.get_string("model_type") == "subq_hybrid" ? c.get_double("rope_theta", 0.0) : 0.0;
  read_layer_kinds(c, k);
  SUBQ_CHECK(k.heads >= 1 && k.hidden % k.heads == 0 && k.kv_heads >= 1 && k.heads % k.kv_heads == 0,
             "{}: num_attention_heads {} must divide hidden_size {} and be a multiple of num_key_value_heads {}", src,
             k.heads, k.hidden, k.kv_heads);
  const std::int64_t intermediate = c.get_int("mamba_expand", 2) * k.hidden;
  k.mamba = {k.hidden, intermediate, c.get_int("mamba_d_state", 16), c.get_int("mamba_d_conv", 4),
             c.is_null("mamba_dt_rank") ? (k.hidden + 15) / 16 : c.get_int("mamba_dt_rank"),
             c.get_bool("mamba_proj_bias", false), c.get_bool("mamba_conv_bias", true), k.eps};
  if (k.mixers.find('S') != std::string::npos) k.mamba2 = read_mamba2(c, k);
  if (k.mixers.find('R') != std::string::npos) k.retention = read_retention(c, k);
  if (k.mixers.find('H') != std::string::npos) k.hyena = read_hyena(c, k);
  if (k.mixers.find('K') != std::string::npos) k.rwkv4 = {k.hidden, c.get_int("rwkv4_attention_hidden", k.hidden)};
  if (k.mixers.find('W') != std::string::npos) k.rwkv6 = read_rwkv6(c, k);
  if (k.mixers.find('V') != std::string::npos) k.rwkv7 = read_rwkv7(c, k);
  if (k.mixers.find('4') != std::string::npos) k.s4 = read_s4(c, k);
  return k;
}

struct AttentionWeights {
  Tensor q, k, v, o;
};

using Mixer = std::variant<AttentionWeights, ssm::MambaMixer, ssm::Mamba2Mixer, recurrent::RetentionMixer,
                           conv::HyenaOperator, recurrent::Rwkv4TimeMix, recurrent::Rwkv6TimeMix, recurrent::Rwkv7TimeMix,
                           ssm::S4Block>;

struct Layer {
  Tensor input_norm, ff_norm;
  Mixer mixer;
  Tensor router;                // defined for MoE layers
  std::vector<SwiGlu> experts;  // one (the MLP) or num_experts
};

SwiGlu load_swiglu(Checkpoint& ck, const std::string& prefix, std::int64_t H, std::int64_t F) {
  return {ck.take(prefix + "gate_proj.weight", {F, H}), ck.take(prefix + "up_proj.weight", {F, H}),
          ck.take(prefix + "down_proj.weight", {H, F})};
}

Layer load_layer(Checkpoint& ck, const Config& c, std::int64_t i) {
  const std::string p = fmt::format("model.layers.{}.", i);
  const std::int64_t H = c.hidden, d = H / c.heads;
  Layer l;
  l.input_norm = ck.take(p + "input_layernorm.weight", {H});
  l.ff_norm = ck.take(p + "pre_ff_layernorm.weight", {H});
  switch (c.mixer(i)) {
    case 'A':
      l.mixer = AttentionWeights{ck.take(p + "self_attn.q_proj.weight", {c.heads * d, H}),
                                 ck.take(p + "self_attn.k_proj.weight", {c.kv_heads * d, H}),
                                 ck.take(p + "self_attn.v_proj.weight", {c.kv_heads * d, H}),
                                 ck.take(p + "self_attn.o_proj.weight", {H, c.heads * d})};
      break;
    case 'M': l.mixer = ssm::MambaMixer::load(ck, p + "mamba.", c.mamba); break;
    case 'S': l.mixer = ssm::Mamba2Mixer::load(ck, p + "mamba2.", c.mamba2); break;
    case 'R': l.mixer = recurrent::RetentionMixer::load(ck, p + "retention.", c.retention); break;
    case 'H': l.mixer = conv::HyenaOperator::load(ck, p + "hyena.", c.hyena); break;
    case 'K': l.mixer = recurrent::Rwkv4TimeMix::load(ck, p + "rwkv4.", c.rwkv4); break;
    case 'W': l.mixer = recurrent::Rwkv6TimeMix::load(ck, p + "rwkv6.", c.rwkv6); break;
    case '4': l.mixer = ssm::S4Block::load(ck, p + "s4.", c.s4); break;
    default: {
      recurrent::Rwkv7MixerConfig rwkv7 = c.rwkv7;
      rwkv7.first = std::int64_t(c.mixers.find('V')) == i;
      l.mixer = recurrent::Rwkv7TimeMix::load(ck, p + "rwkv7.", rwkv7);
    }
  }
  if (c.moe(i)) {
    l.router = ck.take(p + "feed_forward.router.weight", {c.experts, H});
    for (std::int64_t e = 0; e < c.experts; ++e)
      l.experts.push_back(load_swiglu(ck, fmt::format("{}feed_forward.experts.{}.", p, e), H, c.intermediate));
  } else {
    l.experts.push_back(load_swiglu(ck, p + "feed_forward.", H, c.intermediate));
  }
  return l;
}

// src (batch, Ls, ...) into dst (batch, Ld, ...) at time steps [at, at + Ls); dst contiguous,
// float32, on any device.
void write_time(const Tensor& dst, std::int64_t at, const Tensor& src) {
  const Tensor s = src.contiguous();
  for (std::int64_t b = 0; b < s.size(0); ++b) dst.select(0, b).slice(0, at, at + s.size(1)).copy_from(s.select(0, b));
}

// x (batch, Lx, ...) appended after the first `filled` time steps of buffer (batch, capacity,
// ...), which doubles when full: decoding appends a token in amortised constant time instead of
// copying the whole history. Returns the filled steps (batch, filled + Lx, ...), a view.
Tensor append_time(Tensor& buffer, std::int64_t filled, const Tensor& x) {
  const std::int64_t capacity = buffer.defined() ? buffer.size(1) : 0, needed = filled + x.size(1);
  SUBQ_CHECK(filled <= capacity, "append_time: {} cached steps claimed, {} held", filled, capacity);
  if (needed > capacity) {
    Shape shape = x.shape();
    shape[1] = std::max(needed, 2 * capacity);
    Tensor grown = Tensor::empty(shape, DType::F32, x.device());
    if (filled > 0) write_time(grown, 0, buffer.slice(1, 0, filled));
    buffer = grown;
  }
  write_time(buffer, filled, x);
  return buffer.slice(1, 0, needed);
}

// Cache slots: attention layers {keys, values}, Mamba and Mamba-2 layers {conv, scan}, RetNet
// layers {state}, RWKV-6/7 layers {shift, wkv}, RWKV-4 layers {shift, num, den, max}, Hyena and S4D
// layers {inputs}: at most four. Keys, values and inputs are append_time buffers whose first
// `position` steps are filled.
constexpr std::size_t kSlots = 4;

class Jamba final : public Architecture {
 public:
  explicit Jamba(Checkpoint& ck) : config_(read_config(ck.config())) {
    embeddings_ = ck.take("model.embed_tokens.weight", {config_.vocab, config_.hidden});
    for (std::int64_t i = 0; i < config_.layers; ++i) layers_.push_back(load_layer(ck, config_, i));
    final_norm_ = ck.take("model.final_layernorm.weight", {config_.hidden});
    lm_head_ = output_head(ck, "lm_head.weight", embeddings_, config_.tie_embeddings);
  }

  std::int64_t vocab_size() const override { return config_.vocab; }

  Tensor forward(const Tensor& input_ids, ModelCache* cache) const override {
    Tensor h = embedding(embeddings_, input_ids), v_first;  // v_first: the first RWKV-7 layer's values
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const Layer& l = layers_[i];
      std::vector<Tensor>* state = layer_cache(cache, layers_.size(), i, kSlots);
      const Tensor x = rms_norm(h, l.input_norm, config_.eps);
      add_into(h, mix(l.mixer, x, state, cache ? cache->position : 0, v_first));
      const Tensor y = rms_norm(h, l.ff_norm, config_.eps);
      add_into(h, l.router.defined() ? mixture_of_experts(y, l.router, l.experts, int(config_.top_k)) : swiglu(y, l.experts[0]));
    }
    return linear(rms_norm(h, final_norm_, config_.eps), lm_head_);
  }

 private:
  // x (batch, length, hidden) -> the mixer's output; position: of x's first token.
  Tensor mix(const Mixer& mixer, const Tensor& x, std::vector<Tensor>* state, std::int64_t position, Tensor& v_first) const {
    if (const auto* attention = std::get_if<AttentionWeights>(&mixer)) return attend(*attention, x, state, position);
    if (const auto* mamba = std::get_if<ssm::MambaMixer>(&mixer)) return mamba->forward(x, state);
    if (const auto* mamba2 = std::get_if<ssm::Mamba2Mixer>(&mixer)) return mamba2->forward(x, state);
    if (const auto* retention = std::get_if<recurrent::RetentionMixer>(&mixer)) return retention->forward(x, state, position);
    if (const auto* rwkv4 = std::get_if<recurrent::Rwkv4TimeMix>(&mixer)) return rwkv4->forward(x, state);
    if (const auto* rwkv6 = std::get_if<recurrent::Rwkv6TimeMix>(&mixer)) return rwkv6->forward(x, state);
    if (const auto* rwkv7 = std::get_if<recurrent::Rwkv7TimeMix>(&mixer)) return rwkv7->forward(x, state, v_first);
    if (const auto* s4 = std::get_if<ssm::S4Block>(&mixer))  // (batch, H, length) inside
      return over_history(x, state, position, [&](const Tensor& u) { return s4->forward(u.transpose(1, 2)).transpose(1, 2); });
    const auto& hyena = std::get<conv::HyenaOperator>(mixer);
    return over_history(x, state, position, [&](const Tensor& u) { return hyena.forward(u); });
  }

  // For the long convolutions, which have no state to carry here: f over the inputs so far
  // (state {inputs}), the outputs of x's tokens; position: of x's first token.
  template <class F>
  static Tensor over_history(const Tensor& x, std::vector<Tensor>* state, std::int64_t position, F f) {
    if (!state) return f(x);
    const Tensor history = append_time((*state)[0], position, x);
    const std::int64_t T = history.size(1);
    return f(history).slice(1, T - x.size(1), T).contiguous();
  }

  // x (batch, length, hidden) -> attention's output; state {keys, values} grows by the tokens.
  // position: of x's first token in the sequence (for the rotary positions).
  Tensor attend(const AttentionWeights& w, const Tensor& x, std::vector<Tensor>* state, std::int64_t position) const {
    const std::int64_t B = x.size(0), L = x.size(1), d = config_.hidden / config_.heads;
    Tensor q = linear(x, w.q).view({B, L, config_.heads, d});
    Tensor k = linear(x, w.k).view({B, L, config_.kv_heads, d}), v = linear(x, w.v).view({B, L, config_.kv_heads, d});
    if (config_.rope_theta > 0) q = rotary(q, position, config_.rope_theta), k = rotary(k, position, config_.rope_theta);
    if (state) {
      k = append_time((*state)[0], position, k);
      v = append_time((*state)[1], position, v);
    }
    const Tensor o = causal_attention(q, k, v, 1.0 / std::sqrt(double(d)));
    return linear(o.view({B, L, config_.hidden}), w.o);
  }

  Config config_;
  Tensor embeddings_, final_norm_, lm_head_;
  std::vector<Layer> layers_;
};

}  // namespace

std::unique_ptr<Architecture> load_jamba(Checkpoint& checkpoint) { return std::make_unique<Jamba>(checkpoint); }

}  // namespace subq::hybrid
