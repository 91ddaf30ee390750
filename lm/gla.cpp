// fla GLAForCausalLM: the fla layout (lm/fla_stack.hpp) with gated linear attention
// (recurrent/gla_mixer.hpp) as each layer's mixer, in its default form. Decoding carries each
// layer's GLA state.
#include "core/check.hpp"
#include "lm/fla_stack.hpp"
#include "recurrent/gla_mixer.hpp"

namespace subq::lm {

Stack load_gla(Checkpoint& ck) {
  const JsonConfig& c = ck.config();
  const FlaSizes sizes = read_fla_sizes(c);
  refuse_fla_option(c, "use_short_conv", c.get_bool("use_short_conv", false), "a short convolution on q, k, v");
  refuse_fla_option(c, "feature_map", !c.is_null("feature_map"), "a feature map on q and k");
  refuse_fla_option(c, "clamp_min", !c.is_null("clamp_min"), "a floor on the gate logits");
  refuse_fla_option(c, "use_output_gate", !c.get_bool("use_output_gate", true), "GLA without its output gate");
  refuse_fla_option(c, "fuse_norm", !c.get_bool("fuse_norm", true), "the unfused norm and gate (g_norm)");
  refuse_fla_option(c, "elementwise_affine", !c.get_bool("elementwise_affine", true), "a norm without its weight");
  const std::int64_t heads = c.get_int("num_heads");
  refuse_fla_option(c, "num_kv_heads", !c.is_null("num_kv_heads") && c.get_int("num_kv_heads") != heads,
                    "grouped keys and values");
  const recurrent::GlaMixerConfig gla = recurrent::read_gla_config(c, "", sizes.hidden, sizes.eps);
  return fla_stack(ck, sizes, [&](const std::string& prefix) {
    return std::make_unique<recurrent::GlaMixer>(recurrent::GlaMixer::load(ck, prefix, gla));
  });
}

}  // namespace subq::lm
