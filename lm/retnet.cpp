// fla RetNetForCausalLM: the fla layout (lm/fla_stack.hpp) with RetNet's multi-scale retention
// (recurrent/retention_mixer.hpp) as each layer's mixer. Decoding carries each layer's retention
// state and the position.
#include <cmath>

#include "core/check.hpp"
#include "lm/fla_stack.hpp"
#include "recurrent/retention_mixer.hpp"

namespace subq::lm {

namespace {

recurrent::RetentionMixerConfig read_retention(const JsonConfig& c, const FlaSizes& sizes) {
  const std::string& src = c.source();
  refuse_fla_option(c, "use_short_conv", c.get_bool("use_short_conv", false), "a short convolution on q, k, v");
  refuse_fla_option(c, "feature_map", !c.is_null("feature_map"), "a feature map on q and k");
  const std::int64_t hidden = sizes.hidden, heads = c.get_int("num_heads");
  SUBQ_CHECK(c.get_int("num_kv_heads", heads) == heads, "{}: num_kv_heads: grouped keys are not supported", src);
  const double key_dim = double(hidden) * c.get_double("expand_k", 1.0),
               value_dim = double(hidden) * c.get_double("expand_v", 2.0);
  SUBQ_CHECK(std::floor(key_dim) == key_dim && std::floor(value_dim) == value_dim &&
                 std::int64_t(key_dim) % heads == 0 && std::int64_t(value_dim) % heads == 0,
             "{}: hidden_size * expand_k and * expand_v must be whole multiples of num_heads", src);
  return {
      hidden, heads, std::int64_t(key_dim), std::int64_t(value_dim), sizes.eps, c.get_bool("use_output_gate", true)};
}

}  // namespace

Stack load_retnet(Checkpoint& ck) {
  const FlaSizes sizes = read_fla_sizes(ck.config());
  const recurrent::RetentionMixerConfig retention = read_retention(ck.config(), sizes);
  return fla_stack(ck, sizes, [&](const std::string& prefix) {
    return std::make_unique<recurrent::RetentionMixer>(recurrent::RetentionMixer::load(ck, prefix, retention));
  });
}

}  // namespace subq::lm
