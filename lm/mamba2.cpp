// Hugging Face Mamba2ForCausalLM: Mamba-2 mixers (ssm/mamba2_mixer.hpp) in Mamba's backbone layout
// (lm/mamba.cpp).
#include <cmath>
#include <vector>

#include "core/check.hpp"
#include "lm/stack.hpp"
#include "ssm/mamba2_mixer.hpp"

namespace subq::lm {

namespace {

ssm::Mamba2MixerConfig read_mixer(const JsonConfig& c) {
  const std::string act = c.get_string("hidden_act", "silu");
  SUBQ_CHECK(act == "silu", "{}: hidden_act '{}': only silu is supported", c.source(), act);
  SUBQ_CHECK(c.get_bool("rms_norm", true), "{}: rms_norm false is not supported", c.source());
  ssm::Mamba2MixerConfig m{};
  m.hidden = c.get_int("hidden_size");
  m.intermediate = std::int64_t(c.get_double("expand") * double(m.hidden));
  m.state = c.get_int("state_size");
  m.conv_kernel = c.get_int("conv_kernel");
  m.heads = c.get_int("num_heads");
  m.head_dim = c.get_int("head_dim");
  m.groups = c.get_int("n_groups");
  m.chunk = c.get_int("chunk_size");
  m.norm_eps = c.get_double("layer_norm_epsilon");
  const std::vector<double> limit =
      c.has("time_step_limit") ? c.get_doubles("time_step_limit") : std::vector<double>{0.0, INFINITY};
  SUBQ_CHECK(limit.size() == 2 && limit[0] <= limit[1], "{}: time_step_limit: expected [low, high]", c.source());
  m.dt_min = limit[0], m.dt_max = limit[1];
  m.bias = c.get_bool("use_bias", false);
  m.conv_bias = c.get_bool("use_conv_bias", true);
  SUBQ_CHECK(m.heads * m.head_dim == m.intermediate,
             "{}: num_heads * head_dim = {} * {} must equal expand * hidden_size = {}", c.source(), m.heads, m.head_dim,
             m.intermediate);
  SUBQ_CHECK(m.groups >= 1 && m.heads % m.groups == 0, "{}: n_groups {} must divide num_heads {}", c.source(), m.groups,
             m.heads);
  return m;
}

}  // namespace

Stack load_mamba2(Checkpoint& ck) {
  const JsonConfig& c = ck.config();
  const ssm::Mamba2MixerConfig mixer = read_mixer(c);
  auto make_mixer = [&](const std::string& prefix) -> std::unique_ptr<Mixer> {
    return std::make_unique<ssm::Mamba2Mixer>(ssm::Mamba2Mixer::load(ck, prefix, mixer));
  };
  return backbone_stack(ck, c.get_int("vocab_size"), mixer.hidden, c.get_int("num_hidden_layers"), mixer.norm_eps,
                        c.get_bool("tie_word_embeddings", false), make_mixer);
}

}  // namespace subq::lm
