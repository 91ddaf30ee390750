#include "core/mixer.hpp"

#include <algorithm>

#include "core/check.hpp"

namespace subq {

namespace {

// src (batch, Ls, ...) into dst (batch, Ld, ...) at time steps [at, at + Ls); dst contiguous.
void write_time(const Tensor& dst, std::int64_t at, const Tensor& src) {
  const Tensor s = src.contiguous();
  for (std::int64_t b = 0; b < s.size(0); ++b) dst.select(0, b).slice(0, at, at + s.size(1)).copy_from(s.select(0, b));
}

}  // namespace

Tensor append_time(Tensor& buffer, std::int64_t filled, const Tensor& x) {
  const std::int64_t capacity = buffer.defined() ? buffer.size(1) : 0, needed = filled + x.size(1);
  SUBQ_CHECK(filled <= capacity, "append_time: {} cached steps claimed, {} held", filled, capacity);
  if (needed > capacity) {
    Shape shape = x.shape();
    shape[1] = std::max(needed, 2 * capacity);
    Tensor grown = Tensor::empty(shape, DType::F32, x.device());
    if (filled > 0) write_time(grown, 0, buffer.slice(1, 0, filled));
    buffer = grown;
  }
  write_time(buffer, filled, x);
  return buffer.slice(1, 0, needed);
}

Tensor Mixer::forward_packed(const Tensor& x, const Packing& packing, MixerContext& context) const {
  const Tensor v_first = context.v_first;  // packed, from an earlier layer
  Tensor made_v_first;                     // packed, when this layer is the one that makes them
  Tensor y = map_padded(x, packing, [&](const Tensor& padded, std::span<const std::int64_t> group) {
    MixerContext padded_context{0, v_first.defined() ? pad_sequences(v_first, packing, group) : Tensor{}};
    Tensor out = forward(padded, nullptr, padded_context);
    if (!v_first.defined() && padded_context.v_first.defined()) {
      if (!made_v_first.defined()) made_v_first = packed_like(padded_context.v_first, packing);
      unpad_sequences(padded_context.v_first, packing, group, made_v_first);
    }
    return out;
  });
  if (made_v_first.defined()) context.v_first = made_v_first;
  return y;
}

Tensor RerunMixer::forward(const Tensor& x, MixerState* state, MixerContext& context) const {
  if (!state) return whole_sequence_(x);
  const Tensor history = append_time((*state)[0], context.position, x);
  const std::int64_t T = history.size(1);
  return whole_sequence_(history).slice(1, T - x.size(1), T).contiguous();
}

}  // namespace subq
