// SSD on the CPU, in one of two forms:
//   streamed (batch x heads fill the threads): each thread takes its heads through the chunks in
//     order, carrying their states, so no chunk's state is kept and the cost per token stays flat
//     in L;
//   parallel chunks (few heads, long inputs), three passes over (batch, head, chunk):
//     1. intra-chunk outputs and each chunk's own final state (parallel),
//     2. the states entering every chunk: the scan core's linear recurrence over chunks, with the
//        chunk's total decay as a and its own state as b,
//     3. each chunk's outputs from the state entering it (parallel).
#include "ssm/ssd.hpp"

#include <cmath>
#include <vector>

#include "core/check.hpp"
#include "core/dispatch.hpp"
#include "core/eigen_views.hpp"
#include "scan/linear_recurrence.hpp"
#include "ssm/ssd_cuda.hpp"

namespace subq::ssm {

namespace {

constexpr const char* kOp = "ssd";
constexpr std::int64_t kDefaultChunk = 128;
// Below this length stepping the recurrence beats the chunked passes (decoding is length 1).
constexpr std::int64_t kMinChunkedLength = 4;


template <class T>
struct Problem {
  Tensor X, A, B, C;  // contiguous, compute dtype
  std::int64_t batch, L, heads, P, groups, N, Q, chunks;
  Tensor chunk_decay;   // (batch * heads, chunks): exp(sum of A over the chunk)
  Tensor chunk_states;  // (batch * heads, P * N, chunks): each chunk's state from a zero start
  Tensor Y;             // (batch, L, heads, P)

  StridedRows<T> x(std::int64_t b, std::int64_t h, std::int64_t t0, std::int64_t q) const {
    return {X.data<T>() + ((b * L + t0) * heads + h) * P, q, P, Eigen::OuterStride<>(heads * P)};
  }
  StridedRows<T> bc(const Tensor& t, std::int64_t b, std::int64_t h, std::int64_t t0, std::int64_t q) const {
    const std::int64_t g = h / (heads / groups);
    return {t.data<T>() + ((b * L + t0) * groups + g) * N, q, N, Eigen::OuterStride<>(groups * N)};
  }
  // Output rows t0 .. t0+q of one (batch, head), (q, P).
  Eigen::Map<RowMatrix<T>, 0, Eigen::OuterStride<>> y(std::int64_t b, std::int64_t h, std::int64_t t0, std::int64_t q) {
    return {Y.data<T>() + ((b * L + t0) * heads + h) * P, q, P, Eigen::OuterStride<>(heads * P)};
  }
  // Cumulative sum of A within the chunk.
  std::vector<T> cumulative_a(std::int64_t b, std::int64_t h, std::int64_t t0, std::int64_t q) const {
    std::vector<T> cs(static_cast<std::size_t>(q));
    T sum = 0;
    for (std::int64_t l = 0; l < q; ++l) cs[l] = sum += A.data<T>()[(b * L + t0 + l) * heads + h];
    return cs;
  }
};

// M = C B^T masked by the decay from step s to step l (s <= l), zeros above the diagonal (its
// products go through Eigen's triangular view, which skips them). The
// decay is a running product of the steps' factors exp(A), kept a row at a time (row l is row
// l - 1 times exp(A[l]), and 1 on the diagonal): one multiply per element, vectorised along the
// row, and no cancellation as in exp(cs[l] - cs[s]). a: the chunk's A, `a_stride` apart.
template <class T>
void mask_with_decay(const RowMatrix<T>& CB, const T* a, std::int64_t a_stride, RowMatrix<T>& M,
                     Eigen::Array<T, Eigen::Dynamic, 1>& decay) {
  const std::int64_t q = CB.rows();
  M.resize(q, q);
  decay.resize(q);
  for (std::int64_t l = 0; l < q; ++l) {
    decay.head(l) *= std::exp(a[l * a_stride]);
    decay[l] = 1;
    M.row(l).head(l + 1) = CB.row(l).head(l + 1).array() * decay.head(l + 1).transpose();
    M.row(l).tail(q - l - 1).setZero();
  }
}

// The decay from each step of a chunk to its end, exp(cs_end - cs), from the chunk's cumulative A:
// its own state from a zero start is X^T diag(to_end) B, (P, N).
template <class T>
Eigen::Matrix<T, Eigen::Dynamic, 1> to_chunk_end(const std::vector<T>& cs) {
  const std::int64_t q = std::int64_t(cs.size());
  Eigen::Matrix<T, Eigen::Dynamic, 1> to_end(q);
  for (std::int64_t s = 0; s < q; ++s) to_end[s] = std::exp(cs[q - 1] - cs[s]);
  return to_end;
}

// One chunk of every head of group g: C B^T is the same for all of them, only the decay differs.
template <class T>
void intra_chunk(Problem<T>& p, std::int64_t b, std::int64_t g, std::int64_t c) {
  const std::int64_t t0 = c * p.Q, q = std::min(p.Q, p.L - t0), heads_per_group = p.heads / p.groups;
  const std::int64_t first_head = g * heads_per_group;
  const StridedRows<T> B = p.bc(p.B, b, first_head, t0, q), C = p.bc(p.C, b, first_head, t0, q);
  const RowMatrix<T> CB = C * B.transpose();
  RowMatrix<T> M;
  Eigen::Array<T, Eigen::Dynamic, 1> decay;
  for (std::int64_t h = first_head; h < first_head + heads_per_group; ++h) {
    mask_with_decay(CB, p.A.template data<T>() + (b * p.L + t0) * p.heads + h, p.heads, M, decay);
    const StridedRows<T> X = p.x(b, h, t0, q);
    p.y(b, h, t0, q).noalias() = M.template triangularView<Eigen::Lower>() * X;
    const std::vector<T> cs = p.cumulative_a(b, h, t0, q);
    const RowMatrix<T> S = X.transpose() * (to_chunk_end(cs).asDiagonal() * B);
    const std::int64_t bh = b * p.heads + h;
    T* states = p.chunk_states.template data<T>() + bh * p.P * p.N * p.chunks;
    for (std::int64_t i = 0; i < p.P * p.N; ++i) states[i * p.chunks + c] = S.data()[i];
    p.chunk_decay.template data<T>()[bh * p.chunks + c] = std::exp(cs[q - 1]);
  }
}

// The outputs from the state H (P x N) entering the chunk at t0: Y += diag(exp(cs)) C H^T, with cs
// the chunk's cumulative A.
template <class T, class State>
void add_outputs_from_state(Problem<T>& p, std::int64_t b, std::int64_t h, std::int64_t t0, const std::vector<T>& cs,
                            const State& H) {
  const std::int64_t q = std::int64_t(cs.size());
  const StridedRows<T> C = p.bc(p.C, b, h, t0, q);
  Eigen::Matrix<T, Eigen::Dynamic, 1> decay(q);
  for (std::int64_t l = 0; l < q; ++l) decay[l] = std::exp(cs[l]);
  p.y(b, h, t0, q).noalias() += decay.asDiagonal() * (C * H.transpose());
}

// entering: (P * N) strided by `stride`, the state before the chunk.
template <class T>
void add_state_outputs(Problem<T>& p, std::int64_t b, std::int64_t h, std::int64_t c, const T* entering,
                       std::int64_t stride) {
  const std::int64_t t0 = c * p.Q, q = std::min(p.Q, p.L - t0);
  const Eigen::Map<const RowMatrix<T>, 0, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>> H(
      entering, p.P, p.N, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(p.N * stride, stride));
  add_outputs_from_state(p, b, h, t0, p.cumulative_a(b, h, t0, q), H);
}

template <class T>
SsdResult run(Problem<T>& p, const Tensor& initial_state, ThreadPool& pool) {
  const std::int64_t BH = p.batch * p.heads, PN = p.P * p.N;
  p.chunk_decay = Tensor::empty({BH, p.chunks}, dtype_of<T>);
  p.chunk_states = Tensor::empty({BH, PN, p.chunks}, dtype_of<T>);
  p.Y = Tensor::empty({p.batch, p.L, p.heads, p.P}, dtype_of<T>);
  const std::int64_t group_tasks = p.batch * p.groups * p.chunks, tasks = BH * p.chunks;
  pool.parallel_for(group_tasks, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) intra_chunk(p, i / p.chunks / p.groups, i / p.chunks % p.groups, i % p.chunks);
  });
  const Tensor h0 = initial_state.defined() ? initial_state.to(dtype_of<T>).contiguous().view({BH, PN})
                                            : Tensor::zeros({BH, PN}, dtype_of<T>);
  scan::LinearRecurrenceOptions scan_options;
  scan_options.pool = &pool;
  scan_options.out = p.chunk_states;  // in place: the chunk states are the largest buffer SSD holds
  // Every state element of a head decays alike: a is the chunk decay broadcast over P * N.
  const scan::LinearRecurrenceResult passed = scan::linear_recurrence(
      p.chunk_decay.view({BH, 1, p.chunks}).expand({BH, PN, p.chunks}), p.chunk_states, h0, scan_options);
  pool.parallel_for(tasks, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      const std::int64_t bh = i / p.chunks, c = i % p.chunks;
      const bool first = c == 0;
      const T* entering = first ? h0.data<T>() + bh * PN : passed.h.data<T>() + bh * PN * p.chunks + (c - 1);
      add_state_outputs(p, bh / p.heads, bh % p.heads, c, entering, first ? 1 : p.chunks);
    }
  });
  return {p.Y, passed.final_state.view({p.batch, p.heads, p.P, p.N})};
}

// Heads [begin, end) of batch x heads through the chunks in order, on one thread, each carrying its
// state S (P x N) in `state`: per chunk the outputs from inside it and from S, then
// S = exp(cs_end) S + X^T diag(to_end) B. The thread's heads go through a chunk together,
// so C B^T is made once per chunk and group, and the chunk's B and C stay in cache.
template <class T>
void stream_heads(Problem<T>& p, T* state, std::int64_t begin, std::int64_t end) {
  RowMatrix<T> CB, M;
  Eigen::Array<T, Eigen::Dynamic, 1> decay;
  for (std::int64_t t0 = 0; t0 < p.L; t0 += p.Q) {
    const std::int64_t q = std::min(p.Q, p.L - t0);
    std::int64_t made_for = -1;  // the (batch, group) CB was made for
    for (std::int64_t bh = begin; bh < end; ++bh) {
      const std::int64_t b = bh / p.heads, h = bh % p.heads, bg = b * p.groups + h / (p.heads / p.groups);
      const StridedRows<T> B = p.bc(p.B, b, h, t0, q), C = p.bc(p.C, b, h, t0, q), X = p.x(b, h, t0, q);
      if (bg != made_for) CB.noalias() = C * B.transpose(), made_for = bg;
      mask_with_decay(CB, p.A.template data<T>() + (b * p.L + t0) * p.heads + h, p.heads, M, decay);
      p.y(b, h, t0, q).noalias() = M.template triangularView<Eigen::Lower>() * X;
      Eigen::Map<RowMatrix<T>> S(state + bh * p.P * p.N, p.P, p.N);
      const std::vector<T> cs = p.cumulative_a(b, h, t0, q);
      add_outputs_from_state(p, b, h, t0, cs, S);
      S = std::exp(cs[q - 1]) * S + X.transpose() * (to_chunk_end(cs).asDiagonal() * B);
    }
  }
}

template <class T>
SsdResult streamed(Problem<T>& p, const Tensor& initial_state, ThreadPool& pool) {
  Tensor state = initial_state.defined() ? initial_state.to(dtype_of<T>).contiguous().clone()
                                         : Tensor::zeros({p.batch, p.heads, p.P, p.N}, dtype_of<T>);
  p.Y = Tensor::empty({p.batch, p.L, p.heads, p.P}, dtype_of<T>);
  pool.parallel_for(p.batch * p.heads,
                    [&](std::int64_t begin, std::int64_t end) { stream_heads(p, state.data<T>(), begin, end); });
  return {p.Y, state};
}

// The recurrence one step at a time (decoding, and sequences shorter than a chunk is worth):
// state = exp(A) state + x B^T, y = state C, threads over batch x heads.
template <class T>
SsdResult step_by_step(Problem<T>& p, const Tensor& initial_state, ThreadPool& pool) {
  const std::int64_t P = p.P, N = p.N, H = p.heads;
  Tensor state = initial_state.defined() ? initial_state.to(dtype_of<T>).contiguous().clone()
                                         : Tensor::zeros({p.batch, H, P, N}, dtype_of<T>);
  p.Y = Tensor::empty({p.batch, p.L, H, P}, dtype_of<T>);
  pool.parallel_for(p.batch * H, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t bh = begin; bh < end; ++bh) {
      const std::int64_t b = bh / H, h = bh % H;
      Eigen::Map<RowMatrix<T>> S(state.template data<T>() + bh * P * N, P, N);
      for (std::int64_t t = 0; t < p.L; ++t) {
        const StridedRows<T> x = p.x(b, h, t, 1), B = p.bc(p.B, b, h, t, 1), C = p.bc(p.C, b, h, t, 1);
        S = std::exp(p.A.template data<T>()[(b * p.L + t) * H + h]) * S + x.transpose() * B;
        Eigen::Map<RowMatrix<T>>(p.Y.template data<T>() + ((b * p.L + t) * H + h) * P, 1, P).noalias() = (S * C.transpose()).transpose();
      }
    }
  });
  return {p.Y, state};
}

// The CUDA passes (ssm/ssd.cu) around the same scan-core state passing; float32.
inline SsdResult ssd_cuda(const Tensor& X, const Tensor& A, const Tensor& B, const Tensor& C,
                          const SsdOptions& options) {
  const Device device = X.device();
  check_cuda_float32(kOp, device,
                     {{"X", &X}, {"A", &A}, {"B", &B}, {"C", &C}, {"initial_state", &options.initial_state}});
  const std::int64_t batch = X.size(0), L = X.size(1), heads = X.size(2), P = X.size(3), groups = B.size(2),
                     N = B.size(3), BH = batch * heads, PN = P * N;
  const std::int64_t Q = std::min(options.chunk_length > 0 ? options.chunk_length : detail::kMaxCudaChunk,
                                  detail::kMaxCudaChunk);
  const std::int64_t chunks = (L + Q - 1) / Q;
  const Tensor x = X.contiguous(), a = A.contiguous(), b = B.contiguous(), c = C.contiguous();
  SsdResult r{Tensor::empty({batch, L, heads, P}, DType::F32, device), {}};
  const Tensor chunk_states = Tensor::empty({BH, PN, chunks}, DType::F32, device);
  const Tensor chunk_decay = Tensor::empty({BH, chunks}, DType::F32, device);
  const detail::SsdCudaParams params{x.data<float>(), a.data<float>(), b.data<float>(), c.data<float>(),
                                     batch, L, heads, P, groups, N, Q, chunks,
                                     r.Y.data<float>(), chunk_states.data<float>(), chunk_decay.data<float>()};
  check_launch(kOp, device, detail::launch_ssd_chunks(params));
  const Tensor h0 = options.initial_state.defined() ? options.initial_state.contiguous().view({BH, PN})
                                                    : Tensor::zeros({BH, PN}, DType::F32, device);
  const scan::LinearRecurrenceResult passed =
      scan::linear_recurrence(chunk_decay.view({BH, 1, chunks}).expand({BH, PN, chunks}), chunk_states, h0);
  check_launch(kOp, device, detail::launch_ssd_state_outputs(params, h0.data<float>(), passed.h.data<float>()));
  r.final_state = passed.final_state.view({batch, heads, P, N});
  return r;
}

}  // namespace

SsdResult ssd(const Tensor& X, const Tensor& A, const Tensor& B, const Tensor& C, const SsdOptions& options) {
  SUBQ_CHECK(X.defined() && X.dim() == 4, "{}: X: expected (batch, length, heads, P), found {}", kOp,
             X.defined() ? to_string(X.shape()) : "nothing");
  const std::int64_t batch = X.size(0), L = X.size(1), heads = X.size(2), P = X.size(3);
  check_shape(kOp, "A", A, {batch, L, heads});
  SUBQ_CHECK(B.defined() && B.dim() == 4, "{}: B: expected (batch, length, groups, N), found {}", kOp,
             B.defined() ? to_string(B.shape()) : "nothing");
  const std::int64_t groups = B.size(2), N = B.size(3);
  SUBQ_CHECK(groups >= 1 && heads % groups == 0, "{}: B: {} groups do not divide {} heads", kOp, groups, heads);
  check_shape(kOp, "B", B, {batch, L, groups, N});
  check_shape(kOp, "C", C, {batch, L, groups, N});
  if (options.initial_state.defined()) check_shape(kOp, "initial_state", options.initial_state, {batch, heads, P, N});
  SUBQ_CHECK(options.chunk_length >= 0, "{}: chunk_length must be >= 0, found {}", kOp, options.chunk_length);
  if (X.device().is_cuda()) return on_cuda(kOp, X.device(), [&] { return ssd_cuda(X, A, B, C, options); });
  check_same_device(kOp, Device::cpu(), {{"A", &A}, {"B", &B}, {"C", &C}, {"initial_state", &options.initial_state}});
  SUBQ_CHECK(X.dtype() == DType::F32 || X.dtype() == DType::F64, "{}: X: expected float32 or float64, found {}", kOp,
             dtype_name(X.dtype()));
  const std::int64_t Q = options.chunk_length > 0 ? options.chunk_length : kDefaultChunk;
  const std::int64_t chunks = (L + Q - 1) / Q;
  ThreadPool& pool = options.pool ? *options.pool : ThreadPool::global();
  return dispatch(FloatTypes{}, kOp, X.dtype(), [&](auto zero) {
    using T = decltype(zero);
    auto prepare = [](const Tensor& t) { return t.to(dtype_of<T>).contiguous(); };
    Problem<T> p{prepare(X), prepare(A), prepare(B), prepare(C), batch, L, heads, P, groups, N, Q, chunks, {}, {}, {}};
    if (L < kMinChunkedLength) return step_by_step(p, options.initial_state, pool);
    // Streaming needs a few heads per thread to keep them all busy; else the chunks go in parallel.
    if (batch * heads >= 2 * pool.size()) return streamed(p, options.initial_state, pool);
    return run(p, options.initial_state, pool);
  });
}

}  // namespace subq::ssm
