// Selective scan: validation, and the CPU path (threads over batch x channels; each channel's N
// states stepped along time in lockstep with the scan core's operator).
#include "ssm/selective_scan.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <vector>

#include "core/check.hpp"
#include "core/dispatch.hpp"
#include "core/math.hpp"
#include "core/vector_math.hpp"
#include "scan/scan_operator.hpp"
#include "ssm/selective_scan_cuda.hpp"

namespace subq::ssm {

namespace {

constexpr const char* kOp = "selective_scan";

// Read-only elements of a tensor of up to 4 dimensions through its strides (0 for broadcast).
template <class T>
struct Strided {
  const T* p = nullptr;
  std::int64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const T& operator()(std::int64_t i, std::int64_t j = 0, std::int64_t k = 0, std::int64_t l = 0) const {
    return p[i * s0 + j * s1 + k * s2 + l * s3];
  }
};

template <class T>
Strided<T> strided(const Tensor& t) {
  Strided<T> v;
  if (!t.defined()) return v;
  v.p = t.data<T>();
  std::int64_t* s[] = {&v.s0, &v.s1, &v.s2, &v.s3};
  for (int d = 0; d < t.dim(); ++d) *s[d] = t.stride(d);
  return v;
}

// B or C of any accepted layout as (batch, group, N, length) strides and channels per group.
struct GroupedLayout {
  std::int64_t stride_batch, stride_group, stride_n, stride_t, channels_per_group;
};

GroupedLayout grouped_layout(const Tensor& t, std::int64_t dim) {
  switch (t.dim()) {
    case 2: return {0, t.stride(0), t.stride(1), 0, 1};                                     // (dim, N): group = channel
    case 3: return {t.stride(0), 0, t.stride(1), t.stride(2), dim};                         // (batch, N, L): one group
    default: return {t.stride(0), t.stride(1), t.stride(2), t.stride(3), dim / t.size(1)};  // (batch, G, N, L)
  }
}

// B or C seen as (batch, group, N, length), whatever their layout, and which group serves a channel.
template <class S>
struct GroupedInput {
  Strided<S> v;
  std::int64_t channels_per_group;
};

template <class S>
GroupedInput<S> grouped(const Tensor& t, std::int64_t dim) {
  const GroupedLayout g = grouped_layout(t, dim);
  return {{t.data<S>(), g.stride_batch, g.stride_group, g.stride_n, g.stride_t}, g.channels_per_group};
}

void check_grouped(const char* name, const Tensor& t, std::int64_t batch, std::int64_t dim, std::int64_t N,
                   std::int64_t L) {
  SUBQ_CHECK(t.defined(), "{}: {} is missing", kOp, name);
  if (t.dim() == 2) return check_shape(kOp, name, t, {dim, N});
  if (t.dim() == 3) return check_shape(kOp, name, t, {batch, N, L});
  SUBQ_CHECK(t.dim() == 4, "{}: {}: expected (dim, N), (batch, N, length) or (batch, groups, N, length), found {}", kOp,
             name, to_string(t.shape()));
  const std::int64_t groups = t.size(1);
  SUBQ_CHECK(groups >= 1 && dim % groups == 0, "{}: {}: {} groups do not divide {} channels", kOp, name, groups, dim);
  check_shape(kOp, name, t, {batch, groups, N, L});
}

// Everything validated and converted to the compute types: R real, S the state (R or Complex<R>).
template <class R, class S>
struct Operands {
  Strided<R> u, delta, z, D, delta_bias;
  Strided<S> A, initial_state;
  GroupedInput<S> B, C;
  bool delta_softplus;
  std::int64_t batch, dim, N, L;
  R* out;          // (batch, dim, L) contiguous
  S* final_state;  // (batch, dim, N) contiguous
};

// Per-thread buffers of one row (length L).
template <class R>
struct RowBuffers {
  std::vector<R> dt, dt_u, y;
  explicit RowBuffers(std::int64_t L) : dt(std::size_t(L)), dt_u(std::size_t(L)), y(std::size_t(L)) {}
};

constexpr int kLanes = 8;  // states stepped in lockstep: independent chains hide the latency

// exp(dt * rate) for all lanes: for real rates one vectorised exp, the bulk of the work.
template <class R>
void decays(R dt, const R* rate, R* out) {
  using Lanes = Eigen::Array<R, kLanes, 1>;
  Eigen::Map<Lanes> result(out);
  result = (Eigen::Map<const Lanes>(rate) * dt).exp();
}
template <class R>
void decays(R dt, const Complex<R>* rate, Complex<R>* out) {
  for (int w = 0; w < kLanes; ++w) out[w] = exp_scaled(dt, rate[w]);
}

template <class R, class S>
void scan_states(const Operands<R, S>& o, std::int64_t b, std::int64_t d, std::int64_t n0, int count,
                 RowBuffers<R>& row) {
  const std::int64_t gb = d / o.B.channels_per_group, gc = d / o.C.channels_per_group;
  S x[kLanes], rate[kLanes];
  for (int w = 0; w < count; ++w) {
    x[w] = o.initial_state.p ? o.initial_state(b, d, n0 + w) : S(0);
    rate[w] = o.A(d, n0 + w);
  }
  for (int w = count; w < kLanes; ++w) rate[w] = S(0);  // unused lanes, kept finite
  for (std::int64_t t = 0; t < o.L; ++t) {
    S decay[kLanes];
    decays(row.dt[t], rate, decay);
    R y = 0;
    for (int w = 0; w < count; ++w) {
      const scan::Affine<S> step{decay[w], o.B.v(b, gb, n0 + w, t) * S(row.dt_u[t])};
      x[w] = step.apply(x[w]);
      y += real_part(o.C.v(b, gc, n0 + w, t) * x[w]);
    }
    row.y[t] += y;
  }
  for (int w = 0; w < count; ++w) o.final_state[(b * o.dim + d) * o.N + n0 + w] = x[w];
}

template <class R, class S>
void scan_row(const Operands<R, S>& o, std::int64_t b, std::int64_t d, RowBuffers<R>& row) {
  const R bias = o.delta_bias.p ? o.delta_bias(d) : R(0);
  for (std::int64_t t = 0; t < o.L; ++t) {
    const R dt = o.delta(b, d, t) + bias;
    row.dt[t] = o.delta_softplus ? softplus(dt) : dt;
    row.dt_u[t] = row.dt[t] * o.u(b, d, t);
    row.y[t] = 0;
  }
  for (std::int64_t n0 = 0; n0 < o.N; n0 += kLanes)
    scan_states(o, b, d, n0, int(std::min<std::int64_t>(kLanes, o.N - n0)), row);
  // A complex state comes with its conjugate, which the sum leaves out: y counts twice its real part.
  const R scale = std::is_same_v<R, S> ? R(1) : R(2);
  R* out = o.out + (b * o.dim + d) * o.L;
  for (std::int64_t t = 0; t < o.L; ++t) {
    R v = scale * row.y[t] + (o.D.p ? o.D(d) * o.u(b, d, t) : R(0));
    out[t] = o.z.p ? v * silu(o.z(b, d, t)) : v;
  }
}

// Real states where B and C are shared by blocks of channels (every layout but one group per
// channel): kBlock channels are stepped at once, each state a vector across them, so that
// exp(delta A) is one vector exp per state and step. A thread takes its blocks one span of steps
// at a time, all its blocks per span, so that the span's B and C are gathered once per thread
// rather than once per block. A block's inputs for the span are gathered time-major
// ([step][lane]) and their softplus taken as vectors, and its outputs go back to channel rows in
// register transposes.
constexpr std::int64_t kBlock = 16;  // one AVX-512 register of float32 per state
// A span's buffers live in L2: B and C in 2 x span x N values of at most 128 KiB (but for N above
// 256 float32 states, at the least span), a block's five lane buffers in 5 x span x kBlock values
// (320 KiB at 1024 steps of float32). Spans of whole pages of each channel row are what the
// prefetchers stream: gathering 64 steps at a time (256 bytes of each of 48 rows) waited on memory
// once the inputs outgrew the last-level cache, and made 16K steps 40% slower per step than 1K.
constexpr std::int64_t kSpanBytes = std::int64_t(128) << 10;
constexpr std::int64_t kMinSpan = 64, kMaxSpan = 1024;

std::int64_t span_steps(std::int64_t N, std::int64_t bytes_per_value) {
  const std::int64_t fit = kSpanBytes / (2 * N * bytes_per_value) / kMinSpan * kMinSpan;
  return std::clamp(fit, kMinSpan, kMaxSpan);
}

template <class R>
using BlockLanes = Eigen::Array<R, kBlock, 1>;

// One block's carried values: its states and A, per state, and its D and delta_bias.
template <class R>
struct BlockState {
  std::vector<BlockLanes<R>> x, rate;
  BlockLanes<R> skip, delta_bias;
};

template <class R>
struct SpanBuffers {
  std::vector<R> dt, dt_u, u, z, y;  // [step][lane], span x kBlock each
  std::vector<R> B, C;               // [step][state], span x N each
  SpanBuffers(std::int64_t N, std::int64_t span)
      : dt(span * kBlock),
        dt_u(dt.size()),
        u(dt.size()),
        z(dt.size()),
        y(dt.size()),
        B(std::size_t(span * N)),
        C(B.size()) {}
};

template <class R>
BlockLanes<R> lanes(const std::vector<R>& buffer, std::int64_t t) {
  return Eigen::Map<const BlockLanes<R>>(buffer.data() + t * kBlock);
}

template <class R>
BlockState<R> start_block(const Operands<R, R>& o, std::int64_t b, std::int64_t d0) {
  BlockState<R> s{std::vector<BlockLanes<R>>(std::size_t(o.N)), std::vector<BlockLanes<R>>(std::size_t(o.N)),
                  BlockLanes<R>::Zero(), BlockLanes<R>::Zero()};
  for (std::int64_t w = 0; w < kBlock; ++w) {
    for (std::int64_t n = 0; n < o.N; ++n) {
      s.x[std::size_t(n)](w) = o.initial_state.p ? o.initial_state(b, d0 + w, n) : R(0);
      s.rate[std::size_t(n)](w) = o.A(d0 + w, n);
    }
    if (o.D.p) s.skip(w) = o.D(d0 + w);
    if (o.delta_bias.p) s.delta_bias(w) = o.delta_bias(d0 + w);
  }
  return s;
}

// p[w * row_stride + t * step_stride] for w < rows, t < n, time-major into dst[t * rows + w]: a
// tile transpose where rows are contiguous in time (channel rows, as the benchmarks give them),
// runs of `rows` values where steps are (the models' projections, time-major).
template <class R>
void gather_time_major(const R* p, std::int64_t row_stride, std::int64_t step_stride, std::int64_t rows, std::int64_t n,
                       R* dst) {
  if (step_stride == 1) return transpose(p, row_stride, dst, rows, rows, n);
  for (std::int64_t t = 0; t < n; ++t) {
    const R* step = p + t * step_stride;
    R* to = dst + t * rows;
    if (row_stride == 1)
      std::copy_n(step, rows, to);
    else
      for (std::int64_t w = 0; w < rows; ++w) to[w] = step[w * row_stride];
  }
}

// B and C of channel d0's groups for steps [t0, t0 + n), time-major.
template <class R>
void load_shared(const Operands<R, R>& o, std::int64_t b, std::int64_t d0, std::int64_t t0, std::int64_t n,
                 SpanBuffers<R>& buf) {
  const std::int64_t gb = d0 / o.B.channels_per_group, gc = d0 / o.C.channels_per_group;
  gather_time_major(&o.B.v(b, gb, 0, t0), o.B.v.s2, o.B.v.s3, o.N, n, buf.B.data());
  gather_time_major(&o.C.v(b, gc, 0, t0), o.C.v.s2, o.C.v.s3, o.N, n, buf.C.data());
}

// delta + bias (softplus'd), delta u, u and silu(z) of block (b, d0) for steps [t0, t0 + n).
template <class R>
void load_lanes(const Operands<R, R>& o, std::int64_t b, std::int64_t d0, std::int64_t t0, std::int64_t n,
                const BlockState<R>& s, SpanBuffers<R>& buf) {
  auto gather = [&](const Strided<R>& v, std::vector<R>& to) {
    gather_time_major(&v(b, d0, t0), v.s1, v.s2, kBlock, n, to.data());
  };
  using Steps = Eigen::Map<Eigen::Array<R, kBlock, Eigen::Dynamic>>;
  gather(o.delta, buf.dt);
  gather(o.u, buf.u);
  Steps dt(buf.dt.data(), kBlock, n);
  if (o.delta_bias.p) dt.colwise() += s.delta_bias;
  if (o.delta_softplus) softplus_span(buf.dt.data(), n * kBlock);
  Steps(buf.dt_u.data(), kBlock, n) = dt * Steps(buf.u.data(), kBlock, n);
  if (o.z.p) {
    gather(o.z, buf.z);
    activate_span(buf.z.data(), n * kBlock, Activation::Silu);  // the gate
  }
}

// Steps [t0, t0 + n) of block (b, d0), its inputs and B, C loaded.
template <class R>
void scan_span(const Operands<R, R>& o, std::int64_t b, std::int64_t d0, std::int64_t t0, std::int64_t n,
               BlockState<R>& s, SpanBuffers<R>& buf) {
  for (std::int64_t t = 0; t < n; ++t) {
    const BlockLanes<R> dt = lanes(buf.dt, t), dt_u = lanes(buf.dt_u, t);
    const R *Bt = buf.B.data() + t * o.N, *Ct = buf.C.data() + t * o.N;
    BlockLanes<R> y = BlockLanes<R>::Zero();
    for (std::int64_t i = 0; i < o.N; ++i) {
      BlockLanes<R>& x = s.x[std::size_t(i)];
      const scan::Affine<BlockLanes<R>> step{(dt * s.rate[std::size_t(i)]).exp(), dt_u * Bt[i]};
      x = step.apply(x);
      y += Ct[i] * x;
    }
    BlockLanes<R> v = y + s.skip * lanes(buf.u, t);
    if (o.z.p) v *= lanes(buf.z, t);
    Eigen::Map<BlockLanes<R>>(buf.y.data() + t * kBlock) = v;
  }
  transpose(buf.y.data(), kBlock, o.out + (b * o.dim + d0) * o.L + t0, o.L, n, kBlock);
}

// Blocks [begin, end) of (batch, dim / kBlock), on one thread.
template <class R>
void scan_blocks(const Operands<R, R>& o, std::int64_t begin, std::int64_t end) {
  const std::int64_t per_batch = o.dim / kBlock;
  std::vector<BlockState<R>> states;
  for (std::int64_t i = begin; i < end; ++i) states.push_back(start_block(o, i / per_batch, i % per_batch * kBlock));
  const std::int64_t span = span_steps(o.N, sizeof(R));
  SpanBuffers<R> buf(o.N, span);
  const std::int64_t shared = std::min(o.B.channels_per_group, o.C.channels_per_group) / kBlock;  // blocks per B, C
  for (std::int64_t s0 = 0; s0 < o.L; s0 += span) {
    const std::int64_t n = std::min(span, o.L - s0);
    for (std::int64_t i = begin; i < end; ++i) {
      const std::int64_t b = i / per_batch, d0 = i % per_batch * kBlock;
      BlockState<R>& state = states[std::size_t(i - begin)];
      if (i == begin || (i % per_batch) % shared == 0) load_shared(o, b, d0, s0, n, buf);
      load_lanes(o, b, d0, s0, n, state, buf);
      scan_span(o, b, d0, s0, n, state, buf);
    }
  }
  for (std::int64_t i = begin; i < end; ++i)
    for (std::int64_t w = 0; w < kBlock; ++w)
      for (std::int64_t n = 0; n < o.N; ++n)
        o.final_state[(i * kBlock + w) * o.N + n] = states[std::size_t(i - begin)].x[std::size_t(n)](w);
}

// Up to kBlock elements p[0], p[stride], ... of a channel's states as lanes, the rest zero.
template <class R>
BlockLanes<R> state_lanes(const R* p, std::int64_t stride, std::int64_t count) {
  if (stride == 1 && count == kBlock) return Eigen::Map<const BlockLanes<R>>(p);
  BlockLanes<R> v = BlockLanes<R>::Zero();
  for (std::int64_t w = 0; w < count; ++w) v(w) = p[w * stride];
  return v;
}

// One step (L = 1) of real states, channels [begin, end) of (batch, dim): a decoding step. A
// channel's N states are its lanes here (its states are contiguous in the cache), so exp(dt A) is
// one vector exp per kBlock states; the spanned path would spend more on its per-block buffers and
// time-major copies than on the step. softplus and the gate are vectors across the channels first.
// The states come out with the bits scan_span gives them (the same exp and products); y sums
// them as a tree (a chain of N dependent additions per channel would cost more than its exp), so
// it may differ from a longer scan's in the last bits.
template <class R>
void step_channels(const Operands<R, R>& o, std::int64_t begin, std::int64_t end) {
  const std::int64_t rows = end - begin;
  std::vector<R> dt(static_cast<std::size_t>(rows)), gate(static_cast<std::size_t>(rows), R(1));
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t b = (begin + r) / o.dim, d = (begin + r) % o.dim;
    dt[std::size_t(r)] = o.delta(b, d) + (o.delta_bias.p ? o.delta_bias(d) : R(0));
    if (o.z.p) gate[std::size_t(r)] = o.z(b, d);
  }
  if (o.delta_softplus) softplus_span(dt.data(), rows);
  if (o.z.p) activate_span(gate.data(), rows, Activation::Silu);
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t b = (begin + r) / o.dim, d = (begin + r) % o.dim;
    const std::int64_t gb = d / o.B.channels_per_group, gc = d / o.C.channels_per_group;
    const R dt_r = dt[std::size_t(r)], u = o.u(b, d), dt_u = dt_r * u;
    R* state = o.final_state + (b * o.dim + d) * o.N;
    R y = 0;
    for (std::int64_t n0 = 0; n0 < o.N; n0 += kBlock) {
      const std::int64_t count = std::min(kBlock, o.N - n0);
      const BlockLanes<R> rate = state_lanes(&o.A(d, n0), o.A.s1, count),
                          B = state_lanes(&o.B.v(b, gb, n0), o.B.v.s2, count),
                          C = state_lanes(&o.C.v(b, gc, n0), o.C.v.s2, count);
      BlockLanes<R> x = o.initial_state.p ? state_lanes(&o.initial_state(b, d, n0), o.initial_state.s2, count)
                                          : BlockLanes<R>::Zero();
      x = scan::Affine<BlockLanes<R>>{(dt_r * rate).exp(), dt_u * B}.apply(x);
      y += (C * x).sum();  // unused lanes add C = 0 times x = 0
      if (count == kBlock)
        Eigen::Map<BlockLanes<R>>(state + n0) = x;
      else
        for (std::int64_t w = 0; w < count; ++w) state[n0 + w] = x(w);
    }
    const R skip = o.D.p ? o.D(d) : R(0);
    o.out[begin + r] = (y + skip * u) * gate[std::size_t(r)];
  }
}

template <class R, class S>
void run_cpu(const Operands<R, S>& o, ThreadPool& pool) {
  if constexpr (std::is_same_v<R, S>) {
    if (o.L == 1)
      return pool.parallel_for(o.batch * o.dim,
                               [&](std::int64_t begin, std::int64_t end) { step_channels(o, begin, end); });
    // Blocks stay within a group of B and C: groups are runs of channels_per_group channels (which
    // divides dim), so blocks of kBlock never straddle two when it is a multiple of kBlock.
    if (std::min(o.B.channels_per_group, o.C.channels_per_group) % kBlock == 0)
      return pool.parallel_for(o.batch * o.dim / kBlock,
                               [&](std::int64_t begin, std::int64_t end) { scan_blocks(o, begin, end); });
  }
  pool.parallel_for(o.batch * o.dim, [&](std::int64_t begin, std::int64_t end) {
    RowBuffers<R> row(o.L);
    for (std::int64_t r = begin; r < end; ++r) scan_row(o, r / o.dim, r % o.dim, row);
  });
}

struct Validated {
  std::int64_t batch, dim, N, L;
  bool complex;
};

Validated validate(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B, const Tensor& C,
                   const SelectiveScanOptions& o) {
  SUBQ_CHECK(u.defined() && u.dim() == 3, "{}: u: expected (batch, dim, length), found {}", kOp,
             u.defined() ? to_string(u.shape()) : "nothing");
  const std::int64_t batch = u.size(0), dim = u.size(1), L = u.size(2);
  check_shape(kOp, "delta", delta, u.shape());
  SUBQ_CHECK(A.defined() && A.dim() == 2 && A.size(0) == dim, "{}: A: expected ({}, N), found {}", kOp, dim,
             A.defined() ? to_string(A.shape()) : "nothing");
  const std::int64_t N = A.size(1);
  check_grouped("B", B, batch, dim, N, L);
  check_grouped("C", C, batch, dim, N, L);
  const bool complex = is_complex(A.dtype());
  for (const auto& [name, t] : {std::pair{"B", &B}, std::pair{"C", &C}})
    SUBQ_CHECK(is_complex(t->dtype()) == complex, "{}: {} is {} but A is {}: B and C are complex exactly when A is",
               kOp, name, dtype_name(t->dtype()), dtype_name(A.dtype()));
  if (o.D.defined()) check_shape(kOp, "D", o.D, {dim});
  if (o.delta_bias.defined()) check_shape(kOp, "delta_bias", o.delta_bias, {dim});
  if (o.z.defined()) check_shape(kOp, "z", o.z, u.shape());
  if (o.initial_state.defined()) check_shape(kOp, "initial_state", o.initial_state, {batch, dim, N});
  for (const Tensor* t : {&u, &delta, &A, &B, &C, &o.D, &o.delta_bias, &o.z, &o.initial_state})
    SUBQ_CHECK(!t->defined() || t->device() == u.device(), "{}: u is on {} but another input is on {}", kOp,
               to_string(u.device()), to_string(t->device()));
  return {batch, dim, N, L, complex};
}

template <class R, class S>
SelectiveScanResult run_typed(const Validated& v, const Tensor& u, const Tensor& delta, const Tensor& A,
                              const Tensor& B, const Tensor& C, const SelectiveScanOptions& opt) {
  const DType real = dtype_of<R>, state = dtype_of<S>;
  auto as = [](const Tensor& t, DType dtype) { return t.defined() ? t.to(dtype) : t; };
  // Converted copies must outlive the Operands that point into them.
  const Tensor cu = as(u, real), cdelta = as(delta, real), cz = as(opt.z, real), cD = as(opt.D, real),
               cbias = as(opt.delta_bias, real), cA = as(A, state), cB = as(B, state), cC = as(C, state),
               ch0 = as(opt.initial_state, state);
  SelectiveScanResult result{Tensor::empty({v.batch, v.dim, v.L}, real), Tensor::empty({v.batch, v.dim, v.N}, state)};
  const Operands<R, S> o{strided<R>(cu),
                         strided<R>(cdelta),
                         strided<R>(cz),
                         strided<R>(cD),
                         strided<R>(cbias),
                         strided<S>(cA),
                         strided<S>(ch0),
                         grouped<S>(cB, v.dim),
                         grouped<S>(cC, v.dim),
                         opt.delta_softplus,
                         v.batch,
                         v.dim,
                         v.N,
                         v.L,
                         result.out.data<R>(),
                         result.final_state.data<S>()};
  run_cpu(o, opt.pool ? *opt.pool : ThreadPool::global());
  if (u.dtype() != real) result.out = result.out.to(u.dtype());
  return result;
}

void check_dtype(const char* name, const Tensor& t, DType expected, const Device& device) {
  SUBQ_CHECK(!t.defined() || t.dtype() == expected, "{} on {}: {}: expected {}, found {} (convert it on the CPU first)",
             kOp, to_string(device), name, dtype_name(expected), dtype_name(t.dtype()));
}

// The kernel reads along length with unit stride; other layouts (a transposed projection) are
// copied first, as the reference does with .contiguous().
Tensor unit_time_stride(const Tensor& t) {
  return !t.defined() || t.size(-1) <= 1 || t.stride(-1) == 1 ? t : t.contiguous();
}

detail::GroupedOperand operand(const Tensor& t, std::int64_t dim) {
  const GroupedLayout g = grouped_layout(t, dim);
  return {t.raw_data(), g.stride_batch, g.stride_group, g.stride_n, g.stride_t, g.channels_per_group};
}

// The CUDA path (ssm/selective_scan.cu): dtype and stride checks, output allocation, the launch.
inline SelectiveScanResult selective_scan_cuda(const Validated& s, const Tensor& u_in, const Tensor& delta_in,
                                               const Tensor& A, const Tensor& B_in, const Tensor& C_in,
                                               const SelectiveScanOptions& options) {
  const Tensor u = unit_time_stride(u_in), delta = unit_time_stride(delta_in);
  const Tensor B = B_in.dim() > 2 ? unit_time_stride(B_in) : B_in, C = C_in.dim() > 2 ? unit_time_stride(C_in) : C_in;
  SelectiveScanOptions with_z = options;
  with_z.z = unit_time_stride(options.z);
  const SelectiveScanOptions& o = with_z;
  const Device device = u.device();
  const DType input = u.dtype();
  SUBQ_CHECK(input == DType::F32 || input == DType::F64 || input == DType::BF16,
             "{} on {}: u: expected float32, float64 or bfloat16, found {}", kOp, to_string(device), dtype_name(input));
  const DType weight = float_precision(input);
  const DType state = s.complex ? (weight == DType::F64 ? DType::C128 : DType::C64) : weight;
  for (const auto& [name, t] : {std::pair{"delta", &delta}, std::pair{"z", &o.z}}) check_dtype(name, *t, input, device);
  check_dtype("A", A, state, device);
  for (const auto& [name, t] : {std::pair{"B", &B}, std::pair{"C", &C}})
    check_dtype(name, *t, s.complex ? state : input, device);
  for (const auto& [name, t] : {std::pair{"D", &o.D}, std::pair{"delta_bias", &o.delta_bias}})
    check_dtype(name, *t, weight, device);
  check_dtype("initial_state", o.initial_state, state, device);

  SelectiveScanResult r{Tensor::empty({s.batch, s.dim, s.L}, input, device),
                        Tensor::empty({s.batch, s.dim, s.N}, state, device)};
  auto ptr = [](const Tensor& t) -> const void* { return t.defined() ? t.raw_data() : nullptr; };
  auto stride = [](const Tensor& t, int d) -> std::int64_t { return t.defined() ? t.stride(d) : 0; };
  const detail::SelectiveScanParams params{input,
                                           s.complex,
                                           s.batch,
                                           s.dim,
                                           s.N,
                                           s.L,
                                           u.raw_data(),
                                           u.stride(0),
                                           u.stride(1),
                                           delta.raw_data(),
                                           delta.stride(0),
                                           delta.stride(1),
                                           ptr(o.z),
                                           stride(o.z, 0),
                                           stride(o.z, 1),
                                           A.raw_data(),
                                           A.stride(0),
                                           A.stride(1),
                                           operand(B, s.dim),
                                           operand(C, s.dim),
                                           ptr(o.D),
                                           stride(o.D, 0),
                                           ptr(o.delta_bias),
                                           stride(o.delta_bias, 0),
                                           o.delta_softplus,
                                           ptr(o.initial_state),
                                           stride(o.initial_state, 0),
                                           stride(o.initial_state, 1),
                                           stride(o.initial_state, 2),
                                           r.out.raw_data(),
                                           r.final_state.raw_data()};
  check_launch(kOp, device, detail::launch_selective_scan_cuda(params));
  return r;
}

}  // namespace

SelectiveScanResult selective_scan(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B,
                                   const Tensor& C, const SelectiveScanOptions& options) {
  const Validated v = validate(u, delta, A, B, C, options);
  if (u.device().is_cuda())
    return on_cuda(kOp, u.device(), [&] { return selective_scan_cuda(v, u, delta, A, B, C, options); });
  return dispatch(FloatTypes{}, kOp, float_precision(u.dtype()), [&](auto real) {
    using R = decltype(real);
    return v.complex ? run_typed<R, Complex<R>>(v, u, delta, A, B, C, options)
                     : run_typed<R, R>(v, u, delta, A, B, C, options);
  });
}

Tensor selective_state_update(const Tensor& state, const Tensor& x, const Tensor& dt, const Tensor& A, const Tensor& B,
                              const Tensor& C, const SelectiveScanOptions& options) {
  constexpr const char* op = "selective_state_update";
  SUBQ_CHECK(state.defined() && state.dim() == 4, "{}: state: expected (batch, heads, dim, N), found {}", op,
             state.defined() ? to_string(state.shape()) : "nothing");
  const std::int64_t batch = state.size(0), heads = state.size(1), dim = state.size(2), N = state.size(3);
  SUBQ_CHECK(state.is_contiguous(), "{}: state must be contiguous (it is updated in place)", op);
  check_shape(op, "x", x, {batch, heads, dim});
  check_shape(op, "dt", dt, {batch, heads, dim});
  check_shape(op, "A", A, {heads, dim, N});
  SUBQ_CHECK(B.defined() && B.dim() == 3, "{}: B: expected (batch, groups, N), found {}", op,
             B.defined() ? to_string(B.shape()) : "nothing");
  const std::int64_t groups = B.size(1);
  SUBQ_CHECK(groups >= 1 && heads % groups == 0, "{}: B: {} groups do not divide {} heads", op, groups, heads);
  check_shape(op, "B", B, {batch, groups, N});
  check_shape(op, "C", C, {batch, groups, N});
  if (options.z.defined()) check_shape(op, "z", options.z, {batch, heads, dim});
  if (options.D.defined()) check_shape(op, "D", options.D, {heads, dim});
  if (options.delta_bias.defined()) check_shape(op, "delta_bias", options.delta_bias, {heads, dim});
  // A step is a scan of length 1 over channels (head, dim) with groups of heads / groups heads.
  const std::int64_t channels = heads * dim;
  auto channels_view = [&](const Tensor& t, const Shape& shape) {
    return t.defined() ? t.contiguous().view(shape) : t;
  };
  SelectiveScanOptions step = options;
  step.initial_state = state.view({batch, channels, N});
  step.z = channels_view(options.z, {batch, channels, 1});
  step.D = channels_view(options.D, {channels});
  step.delta_bias = channels_view(options.delta_bias, {channels});
  SelectiveScanResult r = selective_scan(
      channels_view(x, {batch, channels, 1}), channels_view(dt, {batch, channels, 1}), channels_view(A, {channels, N}),
      channels_view(B, {batch, groups, N, 1}), channels_view(C, {batch, groups, N, 1}), step);
  state.view({batch, channels, N}).copy_from(r.final_state.to(state.dtype()));
  return r.out.view({batch, heads, dim});
}

}  // namespace subq::ssm
