// Hugging Face MambaForCausalLM: Mamba mixers (ssm/mamba_mixer.hpp) in the backbone layout that
// Mamba2ForCausalLM shares: pre-norm residual layers without a feed-forward,
//   backbone.embeddings, backbone.layers.{i}.{norm, mixer.*}, backbone.norm_f, lm_head
#include "core/check.hpp"
#include "lm/stack.hpp"
#include "ssm/mamba_mixer.hpp"

namespace subq::lm {

Stack load_mamba(Checkpoint& ck) {
  const JsonConfig& c = ck.config();
  const std::string act = c.get_string("hidden_act", "silu");
  SUBQ_CHECK(act == "silu", "{}: hidden_act '{}': only silu is supported", c.source(), act);
  const std::int64_t vocab = c.get_int("vocab_size"), H = c.get_int("hidden_size"),
                     layers = c.get_int("num_hidden_layers");
  const double eps = c.get_double("layer_norm_epsilon");
  const ssm::MambaMixerConfig mixer{H,
                                    c.get_int("intermediate_size"),
                                    c.get_int("state_size"),
                                    c.get_int("conv_kernel"),
                                    c.get_int("time_step_rank"),
                                    c.get_bool("use_bias", false),
                                    c.get_bool("use_conv_bias", true),
                                    0.0};
  auto make_mixer = [&](const std::string& prefix) -> std::unique_ptr<Mixer> {
    return std::make_unique<ssm::MambaMixer>(ssm::MambaMixer::load(ck, prefix, mixer));
  };
  return backbone_stack(ck, vocab, H, layers, eps, c.get_bool("tie_word_embeddings", true), make_mixer);
}

Stack backbone_stack(Checkpoint& ck, std::int64_t vocab, std::int64_t hidden, std::int64_t layers, double eps,
                     bool tie_embeddings,
                     const std::function<std::unique_ptr<Mixer>(const std::string& prefix)>& make_mixer) {
  auto load_block = [&](std::int64_t i) {
    Block b;
    b.mixer = make_mixer(fmt::format("backbone.layers.{}.mixer.", i));
    b.mixer_norm = Norm::rms(ck, fmt::format("backbone.layers.{}.norm.", i), hidden, eps);
    return b;
  };
  return load_stack(ck, {"backbone.embeddings.weight", "lm_head.weight", vocab, hidden, layers, tie_embeddings},
                    load_block, [&] { return Norm::rms(ck, "backbone.norm_f.", hidden, eps); });
}

}  // namespace subq::lm
