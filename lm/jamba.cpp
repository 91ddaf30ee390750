// Hugging Face JambaForCausalLM: the hybrid stack (lm/hybrid_stack.hpp) with attention every
// attn_layer_period layers (at attn_layer_offset) and Mamba elsewhere, and experts every
// expert_layer_period layers (at expert_layer_offset) when num_experts > 1. Jamba's attention has
// no positional encoding.
#include "core/check.hpp"
#include "lm/hybrid_stack.hpp"

namespace subq::lm {

Stack load_jamba(Checkpoint& ck) {
  const JsonConfig& c = ck.config();
  const std::string& src = c.source();
  SUBQ_CHECK(c.is_null("rope_theta"), "{}: rope_theta: Jamba has no rotary positions (model_type subq_hybrid has)",
             src);
  const std::int64_t layers = c.get_int("num_hidden_layers"), experts = c.get_int("num_experts", 1);
  const std::int64_t ap = c.get_int("attn_layer_period"), ao = c.get_int("attn_layer_offset");
  const std::int64_t ep = c.get_int("expert_layer_period"), eo = c.get_int("expert_layer_offset");
  SUBQ_CHECK(ap >= 1 && ep >= 1, "{}: attn_layer_period and expert_layer_period must be >= 1", src);
  std::string mixers, feed_forwards;
  for (std::int64_t i = 0; i < layers; ++i) {
    mixers += i % ap == ao ? 'A' : 'M';
    feed_forwards += experts > 1 && i % ep == eo ? 'E' : 'D';
  }
  return hybrid_stack(ck, mixers, feed_forwards);
}

}  // namespace subq::lm
