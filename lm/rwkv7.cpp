// fla RWKV7ForCausalLM: RWKV-7's time mix (recurrent/rwkv7_mixer.hpp; layer 0's values are the later
// layers' residual) and a channel mix without receptance, in fla's RWKV layout (lm/fla_rwkv.hpp).
#include <algorithm>

#include "core/check.hpp"
#include "lm/fla_rwkv.hpp"
#include "recurrent/rwkv7_mixer.hpp"

namespace subq::lm {

namespace {

// value_dim: one width for every layer, or a list of them.
std::vector<std::int64_t> value_dims(const JsonConfig& c, std::int64_t layers, std::int64_t hidden,
                                     std::int64_t heads) {
  std::vector<std::int64_t> value_dim(std::size_t(layers), hidden);
  if (c.is_array("value_dim"))
    value_dim = c.get_ints("value_dim");
  else if (!c.is_null("value_dim"))
    std::fill(value_dim.begin(), value_dim.end(), c.get_int("value_dim"));
  SUBQ_CHECK(std::int64_t(value_dim.size()) == layers, "{}: value_dim: expected {} entries, found {}", c.source(),
             layers, value_dim.size());
  for (const std::int64_t v : value_dim)
    SUBQ_CHECK(v % heads == 0, "{}: value_dim {} is not a multiple of the {} heads", c.source(), v, heads);
  return value_dim;
}

}  // namespace

Stack load_rwkv7(Checkpoint& ck) {
  const JsonConfig& c = ck.config();
  const FlaRwkvSizes sizes = read_fla_rwkv_sizes(c);
  const std::int64_t H = sizes.hidden, layers = sizes.layers;
  // As fla: head_dim, when given, fixes the number of heads; else num_heads does.
  const std::int64_t head_dim = c.is_null("head_dim") ? H / c.get_int("num_heads") : c.get_int("head_dim");
  SUBQ_CHECK(head_dim >= 1 && H % head_dim == 0, "{}: head_dim {} must divide hidden_size {}", c.source(), head_dim, H);
  const std::vector<std::int64_t> value_dim = value_dims(c, layers, H, H / head_dim);
  const double eps = sizes.eps;
  // The LoRA ranks are the config's, or where it has none (fla then derives them from the hidden
  // size) the checkpoint's tensors'.
  auto given = [&](const char* key) { return c.has(key) && !c.is_null(key) ? c.get_int(key) : 0; };
  auto make_time_mix = [&](std::int64_t i, const std::string& prefix) -> std::unique_ptr<Mixer> {
    recurrent::Rwkv7MixerConfig config{H, H / head_dim, head_dim, value_dim[std::size_t(i)], eps, i == 0};
    config.w_rank = given("decay_low_rank_dim"), config.v_rank = given("v_low_rank_dim");
    config.a_rank = given("a_low_rank_dim"), config.g_rank = given("gate_low_rank_dim");
    return std::make_unique<recurrent::Rwkv7TimeMix>(recurrent::Rwkv7TimeMix::load(ck, prefix, config));
  };
  // The channel mix's width: intermediate_size, or as fla makes it, hidden_ratio (4) x hidden_size
  // rounded up to a multiple of 32.
  const std::int64_t F = given("intermediate_size") > 0
                             ? given("intermediate_size")
                             : (std::int64_t(c.get_double("hidden_ratio", 4) * double(H)) + 31) / 32 * 32;
  auto make_channel_mix = [&](std::int64_t, const std::string& p) {
    return recurrent::RwkvChannelMix{recurrent::RwkvChannelMix::Form::Fla,
                                     ck.take(p + "x_k", {H}),
                                     ck.take_matrix(p + "key.weight", {F, H}),
                                     ck.take_matrix(p + "value.weight", {H, F}),
                                     /*mix_r=*/Tensor{},
                                     /*receptance=*/Tensor{}};  // RWKV-7 has no receptance
  };
  return fla_rwkv_stack(ck, sizes, make_time_mix, make_channel_mix);
}

}  // namespace subq::lm
