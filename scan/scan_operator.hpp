#pragma once
// The associative operator of the first-order linear recurrence h[t] = a[t] * h[t-1] + b[t].
// An element (a, b) is the affine map h -> a*h + b; composing two consecutive steps,
//   (a1, b1) then (a2, b2)  =  (a1*a2, a2*b1 + b2),
// is associative, so a sequence can be cut anywhere, each piece reduced to one element, and the
// pieces' elements composed. Every scan of subq (element-wise, chunk-level, across threads,
// warps and blocks) is this operator; T is a real or subq::Complex scalar, host or device.
#include <cstdint>

#include "../core/complex.hpp"

namespace subq::scan {

template <class T>
struct Affine {
  T a;
  T b;

  SUBQ_HOST_DEVICE static constexpr Affine identity() { return {T(1), T(0)}; }
  /// The state after this step, from the state before it.
  SUBQ_HOST_DEVICE constexpr T apply(T h) const { return a * h + b; }
};

/// `earlier` then `later`.
template <class T>
SUBQ_HOST_DEVICE constexpr Affine<T> compose(Affine<T> earlier, Affine<T> later) {
  return {earlier.a * later.a, later.a * earlier.b + later.b};
}

/// Chunk-level state passing: given each chunk's composed element and the initial state, writes
/// the state entering every chunk (states[0] = h0, states[k+1] = chunks[k].apply(states[k])) and
/// returns the state after the last chunk. Chunks are in scan order.
template <class T>
T chunk_state_passing(const Affine<T>* chunks, std::int64_t count, T h0, T* states) {
  T h = h0;
  for (std::int64_t k = 0; k < count; ++k) {
    states[k] = h;
    h = chunks[k].apply(h);
  }
  return h;
}

}  // namespace subq::scan
