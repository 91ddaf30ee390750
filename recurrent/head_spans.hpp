#pragma once
// Internal, CPU only: what the stepped WKV forms (wkv6.cpp, wkv7.cpp) share. Their inputs are
// (batch, length, heads, d), a step's heads side by side, so one head's steps lie H * d values
// apart: 8 KiB at 32 heads of 64, every step of a head in the same L1 sets, a stride the
// prefetchers do not follow. A thread therefore copies a span of steps of a group of its heads at
// once, each step's run of heads in order, into head-major buffers padded to whole vector lanes,
// and steps the group's states through the span from there.
#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/thread_pool.hpp"
#include "core/vector_math.hpp"

namespace subq::recurrent::detail {

/// Values of one 64-byte vector lane: an AVX-512 register, two AVX2 ones. The stepped kernels
/// hold a lane of one state column (or row) per register set.
template <class T>
constexpr std::int64_t kLane = 64 / sizeof(T);
template <class T>
using Lane = Eigen::Array<T, kLane<T>, 1>;

/// Lanes of state a kernel may keep in registers beside its operands: half the register file,
/// 16 of AVX-512's 32 registers, 8 of AVX2's or SSE's 16.
template <class T>
constexpr int kRegisterLanes = [] {
#ifdef EIGEN_VECTORIZE_AVX512
  constexpr int registers = 16;
#else
  constexpr int registers = 8;
#endif
  constexpr int per_lane = int(kLane<T> / Eigen::internal::packet_traits<T>::size);
  return std::max(1, registers / per_lane);
}();

/// Steps of one span: a group's buffers, 7 inputs of 16 heads x 16 steps x 64 float32 (448 KiB),
/// stay in L2, and a state tile is loaded and stored once per 16 steps.
constexpr std::int64_t kSpanSteps = 16;
/// Heads of one group: a step's run of them is 4 KiB at 64 float32 per head, enough for reads to
/// stream, and the group's states (16 KiB each) stay in L2 through the sequence.
constexpr std::int64_t kGroupHeads = 16;

inline std::int64_t round_up(std::int64_t n, std::int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }

/// The rows of up to kSpanSteps steps of a group of heads of one (batch, length, heads, d) tensor,
/// head-major: row(g, s) is step t0 + s of the group's head g, `width` >= d values, zero past d.
template <class T>
class HeadSpan {
 public:
  HeadSpan(std::int64_t heads, std::int64_t width)
      : width_(width), rows_(std::size_t(heads * kSpanSteps * width), T(0)) {}

  T* row(std::int64_t g, std::int64_t s) { return rows_.data() + (g * kSpanSteps + s) * width_; }
  const T* row(std::int64_t g, std::int64_t s) const { return rows_.data() + (g * kSpanSteps + s) * width_; }
  std::int64_t width() const { return width_; }

 private:
  std::int64_t width_;
  std::vector<T> rows_;
};

/// Where a group's span lies in a (batch, length, heads, d) tensor: heads bh_begin .. bh_end of
/// batch x heads, steps t0 .. t0 + steps (at most kSpanSteps).
struct SpanPlace {
  std::int64_t L, H, bh_begin, bh_end, t0, steps;
  std::int64_t offset(std::int64_t bh, std::int64_t s, std::int64_t d) const {
    return ((bh / H * L + t0 + s) * H + bh % H) * d;
  }
};

/// Copies the span at `place` of `src` (d values per row) into `span`.
template <class T>
void gather(const T* src, std::int64_t d, const SpanPlace& place, HeadSpan<T>& span) {
  for (std::int64_t s = 0; s < place.steps; ++s)
    for (std::int64_t bh = place.bh_begin; bh < place.bh_end; ++bh) {
      const T* from = src + place.offset(bh, s, d);
      std::copy(from, from + d, span.row(bh - place.bh_begin, s));
    }
}

/// exp of the first d values of each row of the span at `place`: the decays from the gathered
/// log-decays, the padding past d left zero.
template <class T>
void exp_rows(HeadSpan<T>& span, std::int64_t d, const SpanPlace& place) {
  for (std::int64_t g = 0; g < place.bh_end - place.bh_begin; ++g)
    for (std::int64_t s = 0; s < place.steps; ++s) exp_span(span.row(g, s), d);
}

/// Asks for the rows of group head g at `place` (d values each) to be brought into the caches.
/// Called for the next span while the kernel steps that head of this one, it has the rows arrive
/// by the time the next gather reads them: on their own the gather's reads wait on memory, as the
/// prefetchers do not run across the 4 KiB page each step's run of heads fills.
template <class T>
void prefetch(const T* src, std::int64_t d, const SpanPlace& place, std::int64_t g) {
  for (std::int64_t s = 0; s < place.steps; ++s) prefetch_span(src + place.offset(place.bh_begin + g, s, d), d);
}

/// The span after `place`, empty past the sequence's end.
inline SpanPlace next_span(const SpanPlace& place) {
  SpanPlace next = place;
  next.t0 += kSpanSteps;
  next.steps = std::clamp<std::int64_t>(place.L - next.t0, 0, kSpanSteps);
  return next;
}

/// Copies the first d values of each row of `span` to the span at `place` of `dst`.
template <class T>
void scatter(const HeadSpan<T>& span, std::int64_t d, const SpanPlace& place, T* dst) {
  for (std::int64_t s = 0; s < place.steps; ++s)
    for (std::int64_t bh = place.bh_begin; bh < place.bh_end; ++bh) {
      const T* from = span.row(bh - place.bh_begin, s);
      std::copy(from, from + d, dst + place.offset(bh, s, d));
    }
}

/// Runs group(bh_begin, bh_end) over batch x heads: split evenly over the pool's threads, each
/// thread's share in groups of at most kGroupHeads.
template <class Group>
void for_head_groups(std::int64_t BH, Group group) {
  ThreadPool::global().parallel_for(BH, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t g = begin; g < end; g += kGroupHeads) group(g, std::min(end, g + kGroupHeads));
  });
}

}  // namespace subq::recurrent::detail
