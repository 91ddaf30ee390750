// The mixers of Hugging Face Mamba2ForCausalLM checkpoints (ssm/mamba2_mixer.hpp), read from
// their config.json, in the shared backbone.
#include <cmath>
#include <vector>

#include "core/check.hpp"
#include "ssm/backbone.hpp"
#include "ssm/mamba2_mixer.hpp"

namespace subq::ssm {

namespace {

struct Mamba2Config {
  std::int64_t vocab_size, hidden_size, intermediate_size, state_size, conv_kernel, num_heads, head_dim, n_groups,
      chunk_size, num_layers;
  double layer_norm_epsilon, time_step_min, time_step_max;  // the last two: the clamp of dt
  bool use_bias, use_conv_bias, tie_word_embeddings;

  Mamba2MixerConfig mixer() const {
    return {hidden_size, intermediate_size, state_size,         conv_kernel,   num_heads, head_dim,
            n_groups,    chunk_size,        layer_norm_epsilon, time_step_min, time_step_max, use_bias, use_conv_bias};
  }
};

Mamba2Config read_config(const JsonConfig& c) {
  const std::string act = c.get_string("hidden_act", "silu");
  SUBQ_CHECK(act == "silu", "{}: hidden_act '{}': only silu is supported", c.source(), act);
  SUBQ_CHECK(c.get_bool("rms_norm", true), "{}: rms_norm false is not supported", c.source());
  Mamba2Config m{};
  m.vocab_size = c.get_int("vocab_size");
  m.hidden_size = c.get_int("hidden_size");
  m.intermediate_size = std::int64_t(c.get_double("expand") * double(m.hidden_size));
  m.state_size = c.get_int("state_size");
  m.conv_kernel = c.get_int("conv_kernel");
  m.num_heads = c.get_int("num_heads");
  m.head_dim = c.get_int("head_dim");
  m.n_groups = c.get_int("n_groups");
  m.chunk_size = c.get_int("chunk_size");
  m.num_layers = c.get_int("num_hidden_layers");
  m.layer_norm_epsilon = c.get_double("layer_norm_epsilon");
  const std::vector<double> limit = c.has("time_step_limit") ? c.get_doubles("time_step_limit")
                                                             : std::vector<double>{0.0, INFINITY};
  SUBQ_CHECK(limit.size() == 2 && limit[0] <= limit[1], "{}: time_step_limit: expected [low, high]", c.source());
  m.time_step_min = limit[0], m.time_step_max = limit[1];
  m.use_bias = c.get_bool("use_bias", false);
  m.use_conv_bias = c.get_bool("use_conv_bias", true);
  m.tie_word_embeddings = c.get_bool("tie_word_embeddings", false);
  SUBQ_CHECK(m.num_heads * m.head_dim == m.intermediate_size,
             "{}: num_heads * head_dim = {} * {} must equal expand * hidden_size = {}", c.source(), m.num_heads,
             m.head_dim, m.intermediate_size);
  SUBQ_CHECK(m.n_groups >= 1 && m.num_heads % m.n_groups == 0, "{}: n_groups {} must divide num_heads {}", c.source(),
             m.n_groups, m.num_heads);
  return m;
}

class Mamba2Mixers final : public Mixers {
 public:
  explicit Mamba2Mixers(std::vector<Mamba2Mixer> layers) : layers_(std::move(layers)) {}
  Tensor mix(int layer, const Tensor& h, std::vector<Tensor>* state) const override {
    return layers_[std::size_t(layer)].forward(h, state);
  }

 private:
  std::vector<Mamba2Mixer> layers_;
};

}  // namespace

LoadedMixers load_mamba2_mixers(Checkpoint& checkpoint) {
  const Mamba2Config c = read_config(checkpoint.config());
  std::vector<Mamba2Mixer> layers;
  for (int i = 0; i < c.num_layers; ++i) layers.push_back(Mamba2Mixer::load(checkpoint, mixer_tensor(i, ""), c.mixer()));
  return {std::make_unique<Mamba2Mixers>(std::move(layers)),
          {c.vocab_size, c.hidden_size, c.num_layers, c.layer_norm_epsilon, c.tie_word_embeddings}};
}

}  // namespace subq::ssm
