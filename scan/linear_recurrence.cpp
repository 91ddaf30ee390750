// The linear recurrence: validation, the CPU paths and the dispatch to the CUDA kernel
// (scan/linear_recurrence.cu).
//
// The CPU scan: each row (batch, channel) is cut into `segments` lanes along time.
// A lane is scanned with one dependent multiply-add per step, so a single lane runs at the
// latency of that chain; kLanes lanes stepped in lockstep hide it (the "vectorised over
// channels" part: neighbouring channels, or neighbouring segments of one long row).
// With one segment per row the rows are simply scanned in parallel. With several:
//   1. reduce every lane to its Affine element (parallel),
//   2. chunk_state_passing along each row gives the state entering every lane,
//   3. rescan every lane from that state, writing h (parallel).
#include "scan/linear_recurrence.hpp"

#include <algorithm>
#include <vector>

#include "core/check.hpp"
#include "core/dispatch.hpp"
#include "scan/linear_recurrence_cuda.hpp"
#include "scan/scan_operator.hpp"

namespace subq::scan {

namespace {

/// Everything validated: a, b (B, D, L) of the input dtype; h0 (B, D) of the state dtype;
/// h (B, D, L) and final_state (B, D) allocated contiguous in the state dtype.
struct LinearRecurrenceArgs {
  Tensor a, b, h0, h, final_state;
  Direction direction;
};

DType state_dtype(DType input) { return input == DType::BF16 || input == DType::F16 ? DType::F32 : input; }

LinearRecurrenceArgs validate(const Tensor& a, const Tensor& b, const Tensor& h0, Direction direction,
                              const Tensor& out = {}) {
  SUBQ_CHECK(a.defined() && b.defined(), "linear_recurrence: a and b must be defined");
  SUBQ_CHECK(a.dim() == 3, "linear_recurrence: tensor 'a': expected (batch, channels, length), found shape {}",
             to_string(a.shape()));
  SUBQ_CHECK(b.shape() == a.shape(), "linear_recurrence: tensor 'b': expected shape {} (as 'a'), found {}",
             to_string(a.shape()), to_string(b.shape()));
  SUBQ_CHECK(b.dtype() == a.dtype(), "linear_recurrence: tensor 'b': expected dtype {} (as 'a'), found {}",
             dtype_name(a.dtype()), dtype_name(b.dtype()));
  SUBQ_CHECK(is_floating(a.dtype()) || is_complex(a.dtype()),
             "linear_recurrence: tensor 'a': expected a floating or complex dtype, found {}", dtype_name(a.dtype()));
  SUBQ_CHECK(b.device() == a.device(), "linear_recurrence: tensor 'b' is on {}, 'a' on {}", to_string(b.device()),
             to_string(a.device()));
  const DType state = state_dtype(a.dtype());
  const Shape state_shape{a.size(0), a.size(1)};
  LinearRecurrenceArgs args{a, b, h0, {}, {}, direction};
  if (h0.defined()) {
    SUBQ_CHECK(h0.shape() == state_shape, "linear_recurrence: tensor 'h0': expected shape {}, found {}",
               to_string(state_shape), to_string(h0.shape()));
    SUBQ_CHECK(h0.dtype() == a.dtype() || h0.dtype() == state,
               "linear_recurrence: tensor 'h0': expected dtype {}, found {}", dtype_name(state), dtype_name(h0.dtype()));
    SUBQ_CHECK(h0.device() == a.device(), "linear_recurrence: tensor 'h0' is on {}, 'a' on {}",
               to_string(h0.device()), to_string(a.device()));
    args.h0 = h0.dtype() == state ? h0 : h0.to(state);
  } else {
    args.h0 = Tensor::zeros(state_shape, state, a.device());
  }
  if (out.defined()) {
    SUBQ_CHECK(out.shape() == a.shape() && out.dtype() == state && out.device() == a.device() && out.is_contiguous(),
               "linear_recurrence: tensor 'out': expected contiguous {} {} on {}, found {} {} on {}{}",
               dtype_name(state), to_string(a.shape()), to_string(a.device()), dtype_name(out.dtype()),
               to_string(out.shape()), to_string(out.device()), out.is_contiguous() ? "" : " (strided)");
    args.h = out;
  } else {
    args.h = Tensor::empty(a.shape(), state, a.device());
  }
  args.final_state = Tensor::empty(state_shape, state, a.device());
  return args;
}

constexpr int kLanes = 8;
// Below this many elements threads cost more than they save.
constexpr std::int64_t kMinParallelElements = 1 << 15;
// Shortest segment worth a separate lane in the segmented path.
constexpr std::int64_t kMinSegment = 512;

// Up to kLanes lanes equally spaced in memory; pointers address logical time 0 of lane 0.
template <class T>
struct LaneGroup {
  const T* a;
  const T* b;
  T* h;
  std::int64_t lane_a, lane_b, lane_h;  // offset from one lane to the next
  std::int64_t step_a, step_b, step_h;  // offset from one logical time to the next
  int count;
  std::int64_t length[kLanes];
};

// W lanes, n steps from logical time `from`: carry[w] goes in as the state before and comes
// out as the state after.
template <class T, int W>
void scan_steps(const LaneGroup<T>& g, int first, std::int64_t from, std::int64_t n, T* carry) {
  const T* a = g.a + first * g.lane_a + from * g.step_a;
  const T* b = g.b + first * g.lane_b + from * g.step_b;
  T* h = g.h + first * g.lane_h + from * g.step_h;
  T state[W];
  for (int w = 0; w < W; ++w) state[w] = carry[w];
  for (std::int64_t i = 0; i < n; ++i)
    for (int w = 0; w < W; ++w) {
      state[w] = a[w * g.lane_a + i * g.step_a] * state[w] + b[w * g.lane_b + i * g.step_b];
      h[w * g.lane_h + i * g.step_h] = state[w];
    }
  for (int w = 0; w < W; ++w) carry[w] = state[w];
}

// The same walk composing each lane's element instead of writing h.
template <class T, int W>
void reduce_steps(const LaneGroup<T>& g, int first, std::int64_t from, std::int64_t n, Affine<T>* acc) {
  const T* a = g.a + first * g.lane_a + from * g.step_a;
  const T* b = g.b + first * g.lane_b + from * g.step_b;
  Affine<T> e[W];
  for (int w = 0; w < W; ++w) e[w] = acc[w];
  for (std::int64_t i = 0; i < n; ++i)
    for (int w = 0; w < W; ++w)
      e[w] = compose(e[w], Affine<T>{a[w * g.lane_a + i * g.step_a], b[w * g.lane_b + i * g.step_b]});
  for (int w = 0; w < W; ++w) acc[w] = e[w];
}

// Steps all lanes together while all have data, then each lane alone to its end.
template <class T, class Acc, class Lockstep, class Single>
void walk_group(const LaneGroup<T>& g, Acc* acc, Lockstep lockstep, Single single) {
  const std::int64_t common = *std::min_element(g.length, g.length + g.count);
  if (g.count == kLanes)
    lockstep(0, common, acc);
  else
    for (int w = 0; w < g.count; ++w) single(w, 0, common, acc + w);
  for (int w = 0; w < g.count; ++w)
    if (g.length[w] > common) single(w, common, g.length[w] - common, acc + w);
}

template <class T>
class Plan {
 public:
  Plan(const LinearRecurrenceArgs& args, std::int64_t segments) : args_(args), segments_(segments) {
    const Tensor& a = args.a;
    B_ = a.size(0), D_ = a.size(1), L_ = a.size(2);
    segment_length_ = (L_ + segments - 1) / segments;
    const bool reverse = args.direction == Direction::Reverse;
    // Logical time i of a row lives at physical t = i (forward) or L-1-i (reverse).
    sign_ = reverse ? -1 : 1;
    start_ = reverse ? L_ - 1 : 0;
    // With one segment the lanes of a group are neighbouring channels, else neighbouring segments.
    groups_per_row_ = segments == 1 ? 1 : (segments + kLanes - 1) / kLanes;
    channel_groups_ = segments == 1 ? (D_ + kLanes - 1) / kLanes : D_;
  }

  std::int64_t groups() const { return B_ * channel_groups_ * groups_per_row_; }
  std::int64_t rows() const { return B_ * D_; }
  std::int64_t segments() const { return segments_; }
  std::int64_t lanes() const { return rows() * segments_; }

  // Group g and the index of its first lane in (row, segment) order.
  LaneGroup<T> group(std::int64_t g, std::int64_t* first_lane) const {
    const std::int64_t per_batch = channel_groups_ * groups_per_row_;
    const std::int64_t bi = g / per_batch, rest = g % per_batch;
    const Tensor& a = args_.a;
    const Tensor& b = args_.b;
    LaneGroup<T> lg{};
    std::int64_t d0, s0;
    if (segments_ == 1) {
      d0 = rest * kLanes, s0 = 0;
      lg.count = int(std::min<std::int64_t>(kLanes, D_ - d0));
      lg.lane_a = a.stride(1), lg.lane_b = b.stride(1), lg.lane_h = L_;
    } else {
      d0 = rest / groups_per_row_, s0 = (rest % groups_per_row_) * kLanes;
      lg.count = int(std::min<std::int64_t>(kLanes, segments_ - s0));
      lg.lane_a = sign_ * segment_length_ * a.stride(2);
      lg.lane_b = sign_ * segment_length_ * b.stride(2);
      lg.lane_h = sign_ * segment_length_;
    }
    lg.step_a = sign_ * a.stride(2), lg.step_b = sign_ * b.stride(2), lg.step_h = sign_;
    const std::int64_t t0 = start_ + sign_ * s0 * segment_length_;
    lg.a = a.data<T>() + bi * a.stride(0) + d0 * a.stride(1) + t0 * a.stride(2);
    lg.b = b.data<T>() + bi * b.stride(0) + d0 * b.stride(1) + t0 * b.stride(2);
    lg.h = args_.h.data<T>() + (bi * D_ + d0) * L_ + t0;
    for (int w = 0; w < lg.count; ++w)
      lg.length[w] =
          segments_ == 1 ? L_ : std::clamp<std::int64_t>(L_ - (s0 + w) * segment_length_, 0, segment_length_);
    *first_lane = segments_ == 1 ? (bi * D_ + d0) : (bi * D_ + d0) * segments_ + s0;
    return lg;
  }

 private:
  const LinearRecurrenceArgs& args_;
  std::int64_t segments_, segment_length_;
  std::int64_t B_, D_, L_;
  std::int64_t sign_, start_;
  std::int64_t groups_per_row_, channel_groups_;
};

// For each group, in parallel: fn(group, index of its first lane).
template <class T, class Fn>
void for_each_group(const Plan<T>& plan, ThreadPool& pool, bool parallel, Fn fn) {
  auto body = [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t g = begin; g < end; ++g) {
      std::int64_t first;
      const LaneGroup<T> lg = plan.group(g, &first);
      fn(lg, first);
    }
  };
  if (parallel)
    pool.parallel_for(plan.groups(), body);
  else
    body(0, plan.groups());
}

template <class T>
void scan_lanes(const LaneGroup<T>& g, T* carry) {
  walk_group(
      g, carry, [&](std::int64_t from, std::int64_t n, T* c) { scan_steps<T, kLanes>(g, 0, from, n, c); },
      [&](int w, std::int64_t from, std::int64_t n, T* c) { scan_steps<T, 1>(g, w, from, n, c); });
}

template <class T>
void run(const LinearRecurrenceArgs& args, ThreadPool& pool, std::int64_t segments) {
  const Plan<T> plan(args, segments);
  const bool parallel = args.a.numel() >= kMinParallelElements;
  const Tensor h0 = args.h0.contiguous();
  T* final_state = args.final_state.data<T>();
  std::vector<T> carry(std::size_t(plan.lanes()));

  if (segments > 1) {
    std::vector<Affine<T>> elements(carry.size(), Affine<T>::identity());
    for_each_group(plan, pool, parallel, [&](const LaneGroup<T>& g, std::int64_t first) {
      walk_group(
          g, elements.data() + first,
          [&](std::int64_t from, std::int64_t n, Affine<T>* e) { reduce_steps<T, kLanes>(g, 0, from, n, e); },
          [&](int w, std::int64_t from, std::int64_t n, Affine<T>* e) { reduce_steps<T, 1>(g, w, from, n, e); });
    });
    for (std::int64_t r = 0; r < plan.rows(); ++r)
      chunk_state_passing(elements.data() + r * segments, segments, h0.data<T>()[r], carry.data() + r * segments);
  } else {
    std::copy(h0.data<T>(), h0.data<T>() + plan.rows(), carry.begin());
  }
  for_each_group(plan, pool, parallel,
                 [&](const LaneGroup<T>& g, std::int64_t first) { scan_lanes(g, carry.data() + first); });
  for (std::int64_t r = 0; r < plan.rows(); ++r) final_state[r] = carry[r * segments + segments - 1];
}

// Enough lanes to keep every thread's lockstep full, from as few segments as possible.
std::int64_t choose_segments(std::int64_t rows, std::int64_t length, int threads, std::int64_t chunk_length) {
  if (chunk_length > 0) return std::max<std::int64_t>(1, (length + chunk_length - 1) / chunk_length);
  const std::int64_t wanted_lanes = std::int64_t(kLanes) * threads * 2;
  if (rows >= wanted_lanes / 2 || length < 2 * kMinSegment * kLanes) return 1;
  const std::int64_t per_row = (wanted_lanes + rows - 1) / rows;
  const std::int64_t segments = (per_row + kLanes - 1) / kLanes * kLanes;
  return std::min(segments, length / kMinSegment);
}

void linear_recurrence_cpu(const LinearRecurrenceArgs& args, ThreadPool& pool, std::int64_t chunk_length) {
  const std::int64_t rows = args.a.size(0) * args.a.size(1), length = args.a.size(2);
  const std::int64_t segments = choose_segments(rows, length, pool.size(), chunk_length);
  dispatch(StateTypes{}, "linear_recurrence", args.h.dtype(),
           [&](auto zero) { run<decltype(zero)>(args, pool, segments); });
}

// The CUDA path (scan/linear_recurrence.cu): a and b read along length with unit stride.
inline void linear_recurrence_cuda(const LinearRecurrenceArgs& args, std::int64_t chunk_length) {
  const Tensor &a = args.a, &b = args.b, &h0 = args.h0;
  SUBQ_CHECK(a.stride(2) == 1 || a.size(2) <= 1,
             "linear_recurrence on {}: tensor 'a' needs unit stride along length, found {}", to_string(a.device()),
             a.stride(2));
  SUBQ_CHECK(b.stride(2) == 1 || b.size(2) <= 1,
             "linear_recurrence on {}: tensor 'b' needs unit stride along length, found {}", to_string(b.device()),
             b.stride(2));
  const detail::LinearRecurrenceParams params{
      a.raw_data(), b.raw_data(), h0.raw_data(), args.h.raw_data(), args.final_state.raw_data(),
      a.size(0),    a.size(1),    a.size(2),     a.stride(0),       a.stride(1),
      b.stride(0),  b.stride(1),  h0.stride(0),  h0.stride(1),      args.direction == Direction::Reverse,
      a.dtype()};
  const detail::LinearRecurrencePlan plan = detail::plan_linear_recurrence_cuda(params, chunk_length);
  Tensor workspace;
  if (plan.workspace_bytes) workspace = Tensor::empty({std::int64_t(plan.workspace_bytes)}, DType::U8, a.device());
  check_launch(
      "linear_recurrence", a.device(),
      detail::launch_linear_recurrence_cuda(params, plan, workspace.defined() ? workspace.raw_data() : nullptr));
}

}  // namespace

LinearRecurrenceResult linear_recurrence(const Tensor& a, const Tensor& b, const Tensor& h0,
                                         const LinearRecurrenceOptions& options) {
  SUBQ_CHECK(options.chunk_length >= 0, "linear_recurrence: chunk_length must be >= 0, found {}", options.chunk_length);
  LinearRecurrenceArgs args = validate(a, b, h0, options.direction, options.out);
  if (a.device().is_cuda()) {
    on_cuda("linear_recurrence", a.device(), [&] { linear_recurrence_cuda(args, options.chunk_length); });
  } else {
    const DType state = args.h.dtype();
    args.a = args.a.to(state);  // 16-bit inputs: widened once, then the float32 path
    args.b = args.b.to(state);
    linear_recurrence_cpu(args, options.pool ? *options.pool : ThreadPool::global(), options.chunk_length);
  }
  return {args.h, args.final_state};
}

LinearRecurrenceResult linear_recurrence_sequential(const Tensor& a, const Tensor& b, const Tensor& h0,
                                                    Direction direction) {
  SUBQ_CHECK(a.device().is_cpu(), "linear_recurrence_sequential: runs on the CPU, 'a' is on {}", to_string(a.device()));
  LinearRecurrenceArgs args = validate(a, b, h0, direction);
  const DType state = args.h.dtype();
  const Tensor ac = a.to(state).contiguous(), bc = b.to(state).contiguous(), h0c = args.h0.contiguous();
  dispatch(StateTypes{}, "linear_recurrence_sequential", state, [&](auto zero) {
    using T = decltype(zero);
    const std::int64_t rows = a.size(0) * a.size(1), L = a.size(2);
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* ar = ac.data<T>() + r * L;
      const T* br = bc.data<T>() + r * L;
      T* hr = args.h.data<T>() + r * L;
      T h = h0c.data<T>()[r];
      for (std::int64_t i = 0; i < L; ++i) {
        const std::int64_t t = direction == Direction::Forward ? i : L - 1 - i;
        h = Affine<T>{ar[t], br[t]}.apply(h);
        hr[t] = h;
      }
      args.final_state.data<T>()[r] = h;
    }
  });
  return {args.h, args.final_state};
}

}  // namespace subq::scan
