// The hybrid stack (lm/hybrid_stack.hpp) and model_type "subq_hybrid", which describes it with one
// letter per layer:
//   "layer_pattern": "MSAR..."          the mixers, letters of the table below
//   "feed_forward_pattern": "DEDE..."   D dense SwiGLU MLP, E mixture of experts (default: all D)
// with Jamba's keys for the sizes (hidden_size, intermediate_size, num_experts,
// num_experts_per_tok, rms_norm_eps, tie_word_embeddings) and each mixer's own keys, which its
// factory documents. Adding a mixer to the stack is one row of the table.
#include "lm/hybrid_stack.hpp"

#include <algorithm>

#include "attention/attention_mixer.hpp"
#include "conv/hyena_mixer.hpp"
#include "core/check.hpp"
#include "core/dense.hpp"
#include "moe/moe.hpp"
#include "recurrent/based_mixer.hpp"
#include "recurrent/delta_net_mixer.hpp"
#include "recurrent/gla_mixer.hpp"
#include "recurrent/griffin_mixer.hpp"
#include "recurrent/mlstm_mixer.hpp"
#include "recurrent/retention_mixer.hpp"
#include "recurrent/rwkv4_mixer.hpp"
#include "recurrent/rwkv6_mixer.hpp"
#include "recurrent/rwkv7_mixer.hpp"
#include "ssm/mamba2_mixer.hpp"
#include "ssm/mamba_mixer.hpp"
#include "ssm/s4_mixer.hpp"

namespace subq::lm {

namespace {

constexpr MixerKind kMixerKinds[] = {
    {'A', "attention", "self_attn.", &attention::make_attention_mixer},
    {'M', "Mamba", "mamba.", &ssm::make_mamba_mixer},
    {'S', "Mamba-2", "mamba2.", &ssm::make_mamba2_mixer},
    {'R', "RetNet", "retention.", &recurrent::make_retention_mixer},
    {'H', "Hyena", "hyena.", &conv::make_hyena_mixer},
    {'K', "RWKV-4", "rwkv4.", &recurrent::make_rwkv4_mixer},
    {'W', "RWKV-6", "rwkv6.", &recurrent::make_rwkv6_mixer},
    {'V', "RWKV-7", "rwkv7.", &recurrent::make_rwkv7_mixer},
    {'4', "S4D", "s4.", &ssm::make_s4_mixer},
    {'L', "GLA", "gla.", &recurrent::make_gla_mixer},
    {'N', "DeltaNet", "delta_net.", &recurrent::make_delta_net_mixer},
    {'G', "Gated DeltaNet", "gated_deltanet.", &recurrent::make_gated_deltanet_mixer},
    {'U', "Griffin RG-LRU", "griffin.", &recurrent::make_griffin_mixer},
    {'O', "local attention", "local_attn.", &attention::make_local_attention_mixer},
    {'B', "BASED", "based.", &recurrent::make_based_mixer},
    {'X', "mLSTM", "mlstm.", &recurrent::make_mlstm_mixer},
};

const MixerKind* find_kind(char letter) {
  for (const MixerKind& kind : kMixerKinds)
    if (kind.letter == letter) return &kind;
  return nullptr;
}

// "A (attention), M (Mamba), ... or 4 (S4D)".
std::string letters() {
  std::string text;
  for (std::size_t i = 0; i < std::size(kMixerKinds); ++i)
    text += fmt::format("{}{} ({})",
                        i == 0                            ? ""
                        : i + 1 == std::size(kMixerKinds) ? " or "
                                                          : ", ",
                        kMixerKinds[i].letter, kMixerKinds[i].name);
  return text;
}

void check_layout(const JsonConfig& c, const std::string& mixers, const std::string& feed_forwards,
                  std::int64_t experts) {
  const std::string& src = c.source();
  SUBQ_CHECK(!mixers.empty() && std::all_of(mixers.begin(), mixers.end(), [](char m) { return find_kind(m); }),
             "{}: layer_pattern '{}': expected letters {}, one per layer", src, mixers, letters());
  SUBQ_CHECK(feed_forwards.size() == mixers.size() && feed_forwards.find_first_not_of("DE") == std::string::npos,
             "{}: feed_forward_pattern '{}': expected {} letters D (dense MLP) or E (experts)", src, feed_forwards,
             mixers.size());
  SUBQ_CHECK(experts > 1 || feed_forwards.find('E') == std::string::npos,
             "{}: feed_forward_pattern asks for experts but num_experts is {}", src, experts);
}

std::int64_t bytes_of(const SwiGlu& mlp) {
  std::int64_t bytes = 0;
  for (const Tensor* t : {&mlp.gate, &mlp.up, &mlp.down}) bytes += std::int64_t(storage_bytes(t->dtype(), t->numel()));
  return bytes;
}

// A layer's feed-forward, the SwiGLU MLP or the router and experts, into the block.
void load_feed_forward(Checkpoint& ck, const std::string& p, bool experts, std::int64_t H, std::int64_t F,
                       std::int64_t count, int top_k, Block& block) {
  if (!experts) {
    block.feed_forward = [mlp = load_swiglu(ck, p, H, F)](const Tensor& x, MixerState*) { return swiglu(x, mlp); };
    return;
  }
  const Tensor router = ck.take(p + "router.weight", {count, H});
  std::vector<SwiGlu> mlps;
  for (std::int64_t e = 0; e < count; ++e) mlps.push_back(load_swiglu(ck, fmt::format("{}experts.{}.", p, e), H, F));
  block.unread_per_token_bytes = std::max<std::int64_t>(count - top_k, 0) * bytes_of(mlps.front());
  block.feed_forward = [router, mlps, top_k](const Tensor& x, MixerState*) {
    return moe::mixture_of_experts(x, router, mlps, top_k);
  };
}

}  // namespace

std::span<const MixerKind> mixer_kinds() { return kMixerKinds; }

Stack hybrid_stack(Checkpoint& ck, const std::string& mixers, const std::string& feed_forwards) {
  const JsonConfig& c = ck.config();
  SUBQ_CHECK(c.get_string("hidden_act", "silu") == "silu", "{}: hidden_act: only silu is supported", c.source());
  const std::int64_t vocab = c.get_int("vocab_size"), H = c.get_int("hidden_size"), F = c.get_int("intermediate_size");
  const std::int64_t experts = c.get_int("num_experts", 1);
  const int top_k = int(c.get_int("num_experts_per_tok", 2));
  const double eps = c.get_double("rms_norm_eps", 1e-6);
  check_layout(c, mixers, feed_forwards, experts);
  auto load_block = [&](std::int64_t i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    const MixerKind& kind = *find_kind(mixers[std::size_t(i)]);
    Block b;
    b.mixer_norm = Norm::rms(ck, p + "input_layernorm.", H, eps);
    b.feed_forward_norm = Norm::rms(ck, p + "pre_ff_layernorm.", H, eps);
    b.mixer = kind.make(ck, {c, p + kind.prefix, H, eps, std::int64_t(mixers.find(kind.letter)) == i});
    load_feed_forward(ck, p + "feed_forward.", feed_forwards[std::size_t(i)] == 'E', H, F, experts, top_k, b);
    return b;
  };
  const StackLayout layout{"model.embed_tokens.weight",
                           "lm_head.weight",
                           vocab,
                           H,
                           std::int64_t(mixers.size()),
                           c.get_bool("tie_word_embeddings", true)};
  return load_stack(ck, layout, load_block, [&] { return Norm::rms(ck, "model.final_layernorm.", H, eps); });
}

Stack load_hybrid_stack(Checkpoint& ck) {
  const JsonConfig& c = ck.config();
  const std::string mixers = c.get_string("layer_pattern");
  const std::int64_t layers = c.get_int("num_hidden_layers", std::int64_t(mixers.size()));
  SUBQ_CHECK(layers == std::int64_t(mixers.size()), "{}: num_hidden_layers {} but layer_pattern has {} layers",
             c.source(), layers, mixers.size());
  return hybrid_stack(ck, mixers, c.get_string("feed_forward_pattern", std::string(mixers.size(), 'D')));
}

}  // namespace subq::lm
