// fla RWKV6ForCausalLM: RWKV-6's time mix (recurrent/rwkv6_mixer.hpp) and a channel mix with a
// receptance, in fla's RWKV layout (lm/fla_rwkv.hpp).
#include "core/check.hpp"
#include "lm/fla_rwkv.hpp"
#include "recurrent/rwkv6_mixer.hpp"

namespace subq::lm {

Stack load_rwkv6(Checkpoint& ck) {
  const JsonConfig& c = ck.config();
  const FlaRwkvSizes sizes = read_fla_rwkv_sizes(c);
  const std::int64_t H = sizes.hidden, heads = c.get_int("num_heads");
  const auto key_dim = std::int64_t(double(H) * c.get_double("expand_k", 0.5));
  const auto value_dim = std::int64_t(double(H) * c.get_double("expand_v", 1.0));
  SUBQ_CHECK(key_dim % heads == 0 && value_dim % heads == 0,
             "{}: the key ({}) and value ({}) widths must be multiples of num_heads {}", c.source(), key_dim, value_dim,
             heads);
  const double eps = sizes.eps;
  const recurrent::Rwkv6MixerConfig time_mix{
      H, heads, key_dim, value_dim, c.get_int("proj_low_rank_dim", 32), c.get_int("gate_low_rank_dim", 64), eps};
  auto make_time_mix = [&](std::int64_t, const std::string& prefix) -> std::unique_ptr<Mixer> {
    return std::make_unique<recurrent::Rwkv6TimeMix>(recurrent::Rwkv6TimeMix::load(ck, prefix, time_mix));
  };
  auto make_channel_mix = [&](std::int64_t, const std::string& p) {
    const Shape& key = ck.shape(p + "key.linear.weight");
    const std::int64_t F = key.empty() ? 0 : key[0];  // fla rounds hidden_ratio's width
    return recurrent::RwkvChannelMix{recurrent::RwkvChannelMix::Form::Fla,
                                     ck.take(p + "key.mu", {H}),
                                     ck.take_matrix(p + "key.linear.weight", {F, H}),
                                     ck.take_matrix(p + "value.weight", {H, F}),
                                     ck.take(p + "receptance.mu", {H}),
                                     ck.take_matrix(p + "receptance.linear.weight", {H, H})};
  };
  return fla_rwkv_stack(ck, sizes, make_time_mix, make_channel_mix);
}

}  // namespace subq::lm
