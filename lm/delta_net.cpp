// fla DeltaNetForCausalLM and GatedDeltaNetForCausalLM: the fla layout (lm/fla_stack.hpp) with
// DeltaNet's or Gated DeltaNet's layer (recurrent/delta_net_mixer.hpp) as each layer's mixer, in
// their default forms (short convolutions, SiLU and L2-normalised q and k). Decoding carries each
// layer's convolution inputs and delta-rule state.
#include "core/check.hpp"
#include "lm/fla_stack.hpp"
#include "recurrent/delta_net_mixer.hpp"

namespace subq::lm {

namespace {

Stack load_delta_rule_stack(Checkpoint& ck, bool gated) {
  const JsonConfig& c = ck.config();
  const FlaSizes sizes = read_fla_sizes(c);
  refuse_fla_option(c, "use_short_conv", !c.get_bool("use_short_conv", true), "a layer without its short convolutions");
  refuse_fla_option(c, "conv_bias", c.get_bool("conv_bias", false), "short convolutions with a bias");
  if (!gated) {
    refuse_fla_option(c, "qk_activation", c.get_string("qk_activation", "silu") != "silu",
                      "a q/k activation other than silu");
    refuse_fla_option(c, "qk_norm", c.get_string("qk_norm", "l2") != "l2", "a q/k norm other than l2");
    refuse_fla_option(c, "use_beta", !c.get_bool("use_beta", true), "DeltaNet without beta");
  }
  const recurrent::DeltaNetMixerConfig layer = recurrent::read_delta_net_config(c, "", sizes.hidden, sizes.eps, gated);
  return fla_stack(ck, sizes, [&](const std::string& prefix) {
    return std::make_unique<recurrent::DeltaNetMixer>(recurrent::DeltaNetMixer::load(ck, prefix, layer));
  });
}

}  // namespace

Stack load_delta_net(Checkpoint& ck) { return load_delta_rule_stack(ck, false); }

Stack load_gated_deltanet(Checkpoint& ck) { return load_delta_rule_stack(ck, true); }

}  // namespace subq::lm
