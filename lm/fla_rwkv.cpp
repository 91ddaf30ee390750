#include "lm/fla_rwkv.hpp"

#include "core/check.hpp"

namespace subq::lm {

Stack fla_rwkv_stack(Checkpoint& ck, const FlaRwkvSizes& s, const MakeTimeMix& make_time_mix,
                     const MakeChannelMix& make_channel_mix) {
  const std::int64_t H = s.hidden;
  auto load_block = [&](std::int64_t i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    Block b;
    if (i == 0 && s.norm_first) b.pre_norm = Norm::layer(ck, p + "pre_norm.", H, s.eps, s.norm_bias);
    b.mixer_norm = Norm::layer(ck, p + "attn_norm.", H, s.eps, s.norm_bias);
    b.feed_forward_norm = Norm::layer(ck, p + "ffn_norm.", H, s.eps, s.norm_bias);
    b.mixer = make_time_mix(i, p + "attn.");
    b.feed_forward = [ffn = make_channel_mix(i, p + "ffn.")](const Tensor& x, MixerState* state) {
      return ffn.forward(x, state);
    };
    b.feed_forward_shifts = true;
    return b;
  };
  return load_stack(ck, {"model.embeddings.weight", "lm_head.weight", s.vocab, H, s.layers, s.tie_embeddings},
                    load_block, [&] { return Norm::layer(ck, "model.norm.", H, s.eps, s.norm_bias); });
}

FlaRwkvSizes read_fla_rwkv_sizes(const JsonConfig& c) {
  SUBQ_CHECK(c.is_null("attn"), "{}: attn: hybrid attention layers are not supported", c.source());
  SUBQ_CHECK(c.get_string("hidden_act", "sqrelu") == "sqrelu", "{}: hidden_act: only sqrelu is supported", c.source());
  return {c.get_int("vocab_size"),
          c.get_int("hidden_size"),
          c.get_int("num_hidden_layers"),
          c.get_double("norm_eps", 1e-5),
          c.get_bool("norm_bias", true),
          c.get_bool("norm_first", true),
          c.get_bool("tie_word_embeddings", false)};
}

}  // namespace subq::lm
