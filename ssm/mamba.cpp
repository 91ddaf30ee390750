// The mixers of Hugging Face MambaForCausalLM checkpoints: a stack of MambaMixer layers.
#include <cmath>
#include <vector>

#include "core/check.hpp"
#include "ssm/backbone.hpp"
#include "ssm/mamba_mixer.hpp"

namespace subq::ssm {

namespace {

struct MambaConfig {
  std::int64_t vocab_size, hidden_size, intermediate_size, state_size, conv_kernel, time_step_rank, num_layers;
  double layer_norm_epsilon;
  bool use_bias, use_conv_bias, tie_word_embeddings;
};

MambaConfig read_config(const JsonConfig& c) {
  const std::string act = c.get_string("hidden_act", "silu");
  SUBQ_CHECK(act == "silu", "{}: hidden_act '{}': only silu is supported", c.source(), act);
  return {c.get_int("vocab_size"),         c.get_int("hidden_size"),         c.get_int("intermediate_size"),
          c.get_int("state_size"),         c.get_int("conv_kernel"),         c.get_int("time_step_rank"),
          c.get_int("num_hidden_layers"),  c.get_double("layer_norm_epsilon"), c.get_bool("use_bias", false),
          c.get_bool("use_conv_bias", true), c.get_bool("tie_word_embeddings", true)};
}

class MambaMixers final : public Mixers {
 public:
  explicit MambaMixers(std::vector<MambaMixer> layers) : layers_(std::move(layers)) {}
  Tensor mix(int layer, const Tensor& h, std::vector<Tensor>* state) const override {
    return layers_[std::size_t(layer)].forward(h, state);
  }

 private:
  std::vector<MambaMixer> layers_;
};

}  // namespace

LoadedMixers load_mamba_mixers(Checkpoint& checkpoint) {
  const MambaConfig c = read_config(checkpoint.config());
  const MambaMixerConfig mixer{c.hidden_size,    c.intermediate_size, c.state_size, c.conv_kernel,
                               c.time_step_rank, c.use_bias,          c.use_conv_bias, 0.0};
  std::vector<MambaMixer> layers;
  for (int i = 0; i < c.num_layers; ++i)
    layers.push_back(MambaMixer::load(checkpoint, fmt::format("backbone.layers.{}.mixer.", i), mixer));
  return {std::make_unique<MambaMixers>(std::move(layers)),
          {c.vocab_size, c.hidden_size, c.num_layers, c.layer_norm_epsilon, c.tie_word_embeddings}};
}

}  // namespace subq::ssm
