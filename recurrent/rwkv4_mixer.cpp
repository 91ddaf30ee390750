#include "recurrent/rwkv4_mixer.hpp"

#include "core/dense.hpp"
#include "core/elementwise.hpp"
#include "recurrent/token_shift.hpp"
#include "recurrent/wkv4.hpp"

namespace subq::recurrent {

namespace {

// The state's slots.
enum Slot : std::size_t { kShift = 0, kNum, kDen, kMax };

}  // namespace

Rwkv4TimeMix Rwkv4TimeMix::load(Checkpoint& ck, const std::string& prefix, const Rwkv4MixerConfig& c) {
  const std::int64_t H = c.hidden, A = c.attention_hidden;
  auto take = [&](const std::string& name, const Shape& shape) { return ck.take(prefix + name, shape); };
  auto matrix = [&](const std::string& name, const Shape& shape) { return ck.take_matrix(prefix + name, shape); };
  Rwkv4TimeMix m;
  m.mix_k_ = take("time_mix_key", {1, 1, H});
  m.mix_v_ = take("time_mix_value", {1, 1, H});
  m.mix_r_ = take("time_mix_receptance", {1, 1, H});
  m.time_decay_ = take("time_decay", {A});
  m.time_first_ = take("time_first", {A});
  m.key_ = matrix("key.weight", {A, H});
  m.value_ = matrix("value.weight", {A, H});
  m.receptance_ = matrix("receptance.weight", {A, H});
  m.output_ = matrix("output.weight", {H, A});
  if (c.output_scale != 1) m.output_ = scale(m.output_, c.output_scale);
  return m;
}

Tensor Rwkv4TimeMix::forward(const Tensor& x, MixerState* state, MixerContext&) const {
  const Tensor s = token_shift(x, state ? &(*state)[kShift] : nullptr);
  const Tensor k = linear(lerp(s, x, mix_k_), key_), v = linear(lerp(s, x, mix_v_), value_);
  const Tensor r = activate(linear(lerp(s, x, mix_r_), receptance_), Activation::Sigmoid);
  const Wkv4State carried = state ? Wkv4State{(*state)[kNum], (*state)[kDen], (*state)[kMax]} : Wkv4State{};
  const Wkv4Result wkv = wkv4(time_decay_, time_first_, k, v, {carried});
  if (state)
    (*state)[kNum] = wkv.final_state.num, (*state)[kDen] = wkv.final_state.den, (*state)[kMax] = wkv.final_state.max;
  return linear(multiply(r, wkv.out), output_);
}

std::unique_ptr<Mixer> make_rwkv4_mixer(Checkpoint& checkpoint, const MixerSite& site) {
  const Rwkv4MixerConfig config{site.hidden, site.config.get_int("rwkv4_attention_hidden", site.hidden)};
  return std::make_unique<Rwkv4TimeMix>(Rwkv4TimeMix::load(checkpoint, site.prefix, config));
}

}  // namespace subq::recurrent
