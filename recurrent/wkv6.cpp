#include "recurrent/wkv6.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/check.hpp"
#include "core/dispatch.hpp"
#include "core/eigen_views.hpp"
#include "core/thread_pool.hpp"
#include "core/vector_math.hpp"
#include "recurrent/head_spans.hpp"
#include "recurrent/wkv_checks.hpp"
#include "scan/linear_recurrence.hpp"

namespace subq::recurrent {

namespace {

constexpr const char* kOp = "wkv6";
constexpr std::int64_t kDefaultChunk = 64;
// Steps summed pair by pair inside a chunk; between such runs the chunk's scores are matrix products.
constexpr std::int64_t kSubChunk = 16;
constexpr std::int64_t kCudaMinChunk = 16;

struct Sizes {
  std::int64_t B, L, H, dk, dv;
};

Sizes validate(const Tensor& r, const Tensor& k, const Tensor& v, const Tensor& w, const Tensor& u,
               const Tensor& initial_state) {
  SUBQ_CHECK(r.defined() && r.dim() == 4, "{}: r: expected (batch, length, heads, d_k), found {}", kOp,
             r.defined() ? to_string(r.shape()) : "nothing");
  const std::int64_t B = r.size(0), L = r.size(1), H = r.size(2), dk = r.size(3);
  check_shape(kOp, "k", k, r.shape());
  check_shape(kOp, "w", w, r.shape());
  SUBQ_CHECK(v.defined() && v.dim() == 4 && v.size(0) == B && v.size(1) == L && v.size(2) == H,
             "{}: v: expected ({}, {}, {}, d_v), found {}", kOp, B, L, H, v.defined() ? to_string(v.shape()) : "nothing");
  const std::int64_t dv = v.size(3);
  check_shape(kOp, "u", u, {H, dk});
  if (initial_state.defined()) check_shape(kOp, "initial_state", initial_state, {B, H, dk, dv});
  detail::check_wkv_inputs(kOp, r, {{"k", &k}, {"v", &v}, {"w", &w}, {"u", &u}}, initial_state, dk, dv);
  return {B, L, H, dk, dv};
}

// The inputs in the compute type, contiguous; rows of one (batch, head) are time steps.
template <class T>
struct Inputs {
  Tensor r, k, v, w, u;
  Tensor decay;  // exp(w), made by with_decay for the chunked form; the stepped one exps what it gathers
  Sizes s;
  const T* row(const Tensor& t, std::int64_t b, std::int64_t h, std::int64_t t0, std::int64_t d) const {
    return t.data<T>() + ((b * s.L + t0) * s.H + h) * d;
  }
};

template <class T>
Inputs<T> prepare(const Tensor& r, const Tensor& k, const Tensor& v, const Tensor& w, const Tensor& u, const Sizes& s) {
  auto as = [](const Tensor& t) { return t.to(dtype_of<T>).contiguous(); };
  return {as(r), as(k), as(v), as(w), as(u), Tensor{}, s};
}

template <class T>
Inputs<T> with_decay(Inputs<T> in) {
  in.decay = in.w.clone();
  parallel_exp(in.decay.template data<T>(), in.decay.numel());
  return in;
}

// The state the CPU forms step in place and return: a copy of the initial state (batch, heads, d_k,
// d_v) in T, or zeros.
template <class T>
Tensor state_to_update(const Tensor& initial_state, const Sizes& s) {
  return initial_state.defined() ? initial_state.to(dtype_of<T>).contiguous().clone()
                                 : Tensor::zeros({s.B, s.H, s.dk, s.dv}, dtype_of<T>);
}

// The stepped form. Per head the state (d_k x d_v) advances a tile of kTileRows rows by one lane
// of columns at a time, the tile in registers through a span of steps: per step and state element
// an FMA into the output, a multiply and an FMA into the state, and no load but the step's
// operands. The bonus adds (r . (u * k)) v per head and step. Columns are independent, rows are
// summed into the outputs tile by tile.
template <class T>
constexpr int kTileRows = detail::kRegisterLanes<T>;

// One group's span: r, k and decay = exp(w) (d_k padded to whole tiles), v and the outputs (d_v
// padded to whole lanes), and bonus[g * kSpanSteps + s] = r . (u * k).
template <class T>
struct StepSpans {
  detail::HeadSpan<T> r, k, decay, v, o;
  std::vector<T> bonus;
  StepSpans(std::int64_t heads, std::int64_t dk, std::int64_t dv)
      : r(heads, dk),
        k(heads, dk),
        decay(heads, dk),
        v(heads, dv),
        o(heads, dv),
        bonus(std::size_t(heads * detail::kSpanSteps)) {}
};

// Columns j0 .. j0 + kLane of group head g's state S (rows `stride` apart) through the span's
// `steps` steps, their outputs written (the first tile of rows) or added (the others).
template <class T>
void step_columns(StepSpans<T>& sp, std::int64_t g, std::int64_t steps, T* S, std::int64_t stride, std::int64_t j0) {
  using Lane = detail::Lane<T>;
  constexpr int R = kTileRows<T>;
  for (std::int64_t i0 = 0; i0 < sp.r.width(); i0 += R) {
    Lane tile[R];
    for (int i = 0; i < R; ++i) tile[i] = Eigen::Map<const Lane>(S + (i0 + i) * stride + j0);
    for (std::int64_t t = 0; t < steps; ++t) {
      const Lane v = Eigen::Map<const Lane>(sp.v.row(g, t) + j0);
      Eigen::Map<Lane> o(sp.o.row(g, t) + j0);
      // Two sums, so that the outputs' FMAs are two dependent chains rather than one.
      Lane even = i0 == 0 ? Lane(sp.bonus[std::size_t(g * detail::kSpanSteps + t)] * v) : Lane(o), odd = Lane::Zero();
      const T *r = sp.r.row(g, t) + i0, *k = sp.k.row(g, t) + i0, *decay = sp.decay.row(g, t) + i0;
      for (int i = 0; i < R; i += 2) {
        even += r[i] * tile[i];
        tile[i] = tile[i] * decay[i] + k[i] * v;
        odd += r[i + 1] * tile[i + 1];
        tile[i + 1] = tile[i + 1] * decay[i + 1] + k[i + 1] * v;
      }
      o = even + odd;
    }
    for (int i = 0; i < R; ++i) Eigen::Map<Lane>(S + (i0 + i) * stride + j0) = tile[i];
  }
}

// Copies the span's inputs in, with decay = exp(w) and the bonus.
template <class T>
void gather_span(const Inputs<T>& in, const detail::SpanPlace& place, StepSpans<T>& sp) {
  const std::int64_t dk = in.s.dk, dv = in.s.dv;
  detail::gather(in.r.template data<T>(), dk, place, sp.r);
  detail::gather(in.k.template data<T>(), dk, place, sp.k);
  detail::gather(in.w.template data<T>(), dk, place, sp.decay);
  detail::gather(in.v.template data<T>(), dv, place, sp.v);
  detail::exp_rows(sp.decay, dk, place);
  using Row = Eigen::Map<const Eigen::Array<T, 1, Eigen::Dynamic>>;
  for (std::int64_t bh = place.bh_begin; bh < place.bh_end; ++bh) {
    const std::int64_t g = bh - place.bh_begin;
    const Row u(in.u.template data<T>() + bh % in.s.H * dk, dk);
    for (std::int64_t t = 0; t < place.steps; ++t)
      sp.bonus[std::size_t(g * detail::kSpanSteps + t)] = (Row(sp.r.row(g, t), dk) * u * Row(sp.k.row(g, t), dk)).sum();
  }
}

// The states of a group of heads as the kernel steps them: in place in the result where d_k and
// d_v fill whole tiles and lanes, else in padded copies.
template <class T>
class GroupStates {
 public:
  GroupStates(T* states, const Sizes& s, std::int64_t bh_begin, std::int64_t bh_end, std::int64_t dk, std::int64_t dv)
      : result_(states + bh_begin * s.dk * s.dv),
        s_(s),
        heads_(bh_end - bh_begin),
        padded_(dk == s.dk && dv == s.dv ? 0 : std::size_t(heads_ * dk * dv), T(0)),
        dk_(dk),
        dv_(dv) {
    if (padded_.empty()) return;
    for (std::int64_t g = 0; g < heads_; ++g)
      for (std::int64_t i = 0; i < s_.dk; ++i)
        std::copy_n(result_ + (g * s_.dk + i) * s_.dv, s_.dv, padded_.data() + (g * dk_ + i) * dv_);
  }
  /// Writes padded states back into the result.
  void finish() {
    if (padded_.empty()) return;
    for (std::int64_t g = 0; g < heads_; ++g)
      for (std::int64_t i = 0; i < s_.dk; ++i)
        std::copy_n(padded_.data() + (g * dk_ + i) * dv_, s_.dv, result_ + (g * s_.dk + i) * s_.dv);
  }
  T* head(std::int64_t g) { return padded_.empty() ? result_ + g * s_.dk * s_.dv : padded_.data() + g * dk_ * dv_; }
  std::int64_t stride() const { return padded_.empty() ? s_.dv : dv_; }

 private:
  T* result_;
  Sizes s_;
  std::int64_t heads_;
  std::vector<T> padded_;
  std::int64_t dk_, dv_;
};

template <class T>
Wkv6Result stepped_typed(const Inputs<T>& in, const Tensor& initial_state) {
  const Sizes& s = in.s;
  Wkv6Result res{Tensor::empty({s.B, s.L, s.H, s.dv}, dtype_of<T>), state_to_update<T>(initial_state, s)};
  const std::int64_t dk = detail::round_up(s.dk, kTileRows<T>), dv = detail::round_up(s.dv, detail::kLane<T>);
  detail::for_head_groups(s.B * s.H, [&](std::int64_t bh_begin, std::int64_t bh_end) {
    StepSpans<T> sp(bh_end - bh_begin, dk, dv);
    GroupStates<T> states(res.final_state.data<T>(), s, bh_begin, bh_end, dk, dv);
    for (std::int64_t t0 = 0; t0 < s.L; t0 += detail::kSpanSteps) {
      const detail::SpanPlace place{s.L, s.H, bh_begin, bh_end, t0, std::min(detail::kSpanSteps, s.L - t0)};
      gather_span(in, place, sp);
      for (std::int64_t g = 0; g < bh_end - bh_begin; ++g) {
        for (const Tensor* x : {&in.r, &in.k, &in.w, &in.v})
          detail::prefetch(x->template data<T>(), x->size(3), detail::next_span(place), g);
        for (std::int64_t j0 = 0; j0 < dv; j0 += detail::kLane<T>)
          step_columns(sp, g, place.steps, states.head(g), states.stride(), j0);
      }
      detail::scatter(sp.o, s.dv, place, res.o.data<T>());
    }
    states.finish();
  });
  return res;
}

// Pass 1 for one chunk of one (batch, head): the outputs from inside the chunk, the chunk's own
// final state (from a zero start) and its total decay per key dimension.
template <class T>
void intra_chunk(const Inputs<T>& in, std::int64_t b, std::int64_t h, std::int64_t t0, std::int64_t q,
                 T* o_rows, T* own_state, T* total_decay) {
  const std::int64_t H = in.s.H, dk = in.s.dk, dv = in.s.dv;
  // Copied out: the rows lie H * d apart, for the usual powers of two in the same L1 sets, and the
  // products below revisit each of them q times.
  const RowMatrix<T> r = StridedRows<T>(in.row(in.r, b, h, t0, dk), q, dk, Eigen::OuterStride<>(H * dk)),
                     k = StridedRows<T>(in.row(in.k, b, h, t0, dk), q, dk, Eigen::OuterStride<>(H * dk)),
                     v = StridedRows<T>(in.row(in.v, b, h, t0, dv), q, dv, Eigen::OuterStride<>(H * dv)),
                     decay = StridedRows<T>(in.row(in.decay, b, h, t0, dk), q, dk, Eigen::OuterStride<>(H * dk));
  const Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>> u(in.u.template data<T>() + h * dk, dk);
  // A[t, s] = sum_i r[t,i] k[s,i] prod_{s<m<t} exp(w[m,i]) for s < t; the bonus u on the diagonal.
  // Within a sub-chunk of kSubChunk steps A is summed pair by pair; between sub-chunks it is a matrix
  // product, the decay split at the end j1 of the earlier sub-chunk J: k[s] times the decay from s
  // to j1, r[t] times the decay from j1 to t. Both are products of factors <= 1: nothing divides.
  RowMatrix<T> A = RowMatrix<T>::Zero(q, q);
  Eigen::Matrix<T, 1, Eigen::Dynamic> d(dk);
  for (std::int64_t t = 0; t < q; ++t) {
    A(t, t) = (r.row(t).array() * u.array() * k.row(t).array()).sum();
    d.setOnes();
    for (std::int64_t s = t - 1; s >= t / kSubChunk * kSubChunk; --s) {
      A(t, s) = (r.row(t).array() * k.row(s).array() * d.array()).sum();
      d.array() *= decay.row(s).array();
    }
  }
  RowMatrix<T> k_to_end(kSubChunk, dk), r_from_end(q, dk);
  for (std::int64_t j0 = 0; j0 + kSubChunk < q; j0 += kSubChunk) {
    const std::int64_t j1 = j0 + kSubChunk, later = q - j1;
    d.setOnes();
    for (std::int64_t s = j1 - 1; s >= j0; --s) {
      k_to_end.row(s - j0) = k.row(s).array() * d.array();
      d.array() *= decay.row(s).array();
    }
    d.setOnes();
    for (std::int64_t t = j1; t < q; ++t) {
      r_from_end.row(t - j1) = r.row(t).array() * d.array();
      d.array() *= decay.row(t).array();
    }
    A.block(j1, j0, later, kSubChunk).noalias() = r_from_end.topRows(later) * k_to_end.transpose();
  }
  Eigen::Map<RowMatrix<T>, 0, Eigen::OuterStride<>> O(o_rows, q, dv, Eigen::OuterStride<>(H * dv));
  O.noalias() = A.template triangularView<Eigen::Lower>() * v;
  // Own state: sum_s (k[s] * prod_{m>s} exp(w[m]))^T v[s]; total decay: prod_m exp(w[m]).
  RowMatrix<T> k_decayed(q, dk);
  d.setOnes();
  for (std::int64_t s = q - 1; s >= 0; --s) {
    k_decayed.row(s) = k.row(s).array() * d.array();
    d.array() *= decay.row(s).array();
  }
  Eigen::Map<RowMatrix<T>>(own_state, dk, dv).noalias() = k_decayed.transpose() * v;
  Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>(total_decay, dk) = d;
}

// Pass 3: o[t] += (r[t] * prod_{m<t} exp(w[m])) S_entering, S_entering (d_k, d_v) with row stride.
template <class T>
void add_state_outputs(const Inputs<T>& in, std::int64_t b, std::int64_t h, std::int64_t t0, std::int64_t q,
                       const T* entering, std::int64_t stride, T* o_rows) {
  const std::int64_t H = in.s.H, dk = in.s.dk, dv = in.s.dv;
  const StridedRows<T> r(in.row(in.r, b, h, t0, dk), q, dk, Eigen::OuterStride<>(H * dk)),
      decay(in.row(in.decay, b, h, t0, dk), q, dk, Eigen::OuterStride<>(H * dk));
  RowMatrix<T> r_decayed(q, dk);
  Eigen::Matrix<T, 1, Eigen::Dynamic> d = Eigen::Matrix<T, 1, Eigen::Dynamic>::Ones(dk);
  for (std::int64_t t = 0; t < q; ++t) {
    r_decayed.row(t) = r.row(t).array() * d.array();
    d.array() *= decay.row(t).array();
  }
  const Eigen::Map<const RowMatrix<T>, 0, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>> S(
      entering, dk, dv, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(dv * stride, stride));
  Eigen::Map<RowMatrix<T>, 0, Eigen::OuterStride<>> O(o_rows, q, dv, Eigen::OuterStride<>(H * dv));
  O.noalias() += r_decayed * S;
}

// The chunks of every (batch, head) at once, in parallel, their states passed along by the scan
// core: how the chunked form runs when batch x heads leave threads idle (one long sequence of few
// heads).
template <class T>
Wkv6Result parallel_chunks_typed(const Inputs<T>& in, const Tensor& initial_state, std::int64_t Q) {
  const std::int64_t B = in.s.B, L = in.s.L, H = in.s.H, dk = in.s.dk, dv = in.s.dv;
  const std::int64_t chunks = (L + Q - 1) / Q, BH = B * H;
  Tensor o = Tensor::empty({B, L, H, dv}, dtype_of<T>);
  // Per (batch, head, key dimension) row: each chunk's decay and own state (d_v values).
  Tensor chunk_decay = Tensor::empty({BH * dk, 1, chunks}, dtype_of<T>), own = Tensor::empty({BH * dk, dv, chunks}, dtype_of<T>);
  auto o_rows = [&](std::int64_t b, std::int64_t h, std::int64_t t0) { return o.data<T>() + ((b * L + t0) * H + h) * dv; };
  ThreadPool& pool = ThreadPool::global();
  pool.parallel_for(BH * chunks, [&](std::int64_t begin, std::int64_t end) {
    std::vector<T> state(static_cast<std::size_t>(dk * dv)), total(static_cast<std::size_t>(dk));
    for (std::int64_t task = begin; task < end; ++task) {
      const std::int64_t bh = task / chunks, c = task % chunks, t0 = c * Q, q = std::min(Q, L - t0);
      intra_chunk(in, bh / H, bh % H, t0, q, o_rows(bh / H, bh % H, t0), state.data(), total.data());
      for (std::int64_t i = 0; i < dk; ++i) {
        chunk_decay.data<T>()[(bh * dk + i) * chunks + c] = total[i];
        for (std::int64_t j = 0; j < dv; ++j) own.data<T>()[((bh * dk + i) * dv + j) * chunks + c] = state[i * dv + j];
      }
    }
  });
  const Tensor h0 = initial_state.defined() ? initial_state.to(dtype_of<T>).contiguous().view({BH * dk, dv})
                                            : Tensor::zeros({BH * dk, dv}, dtype_of<T>);
  // State passing: every element of a key row decays alike, so a is broadcast over d_v.
  const scan::LinearRecurrenceResult passed =
      scan::linear_recurrence(chunk_decay.expand({BH * dk, dv, chunks}), own, h0);
  pool.parallel_for(BH * chunks, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t task = begin; task < end; ++task) {
      const std::int64_t bh = task / chunks, c = task % chunks, t0 = c * Q, q = std::min(Q, L - t0);
      const T* entering = c == 0 ? h0.data<T>() + bh * dk * dv : passed.h.data<T>() + bh * dk * dv * chunks + (c - 1);
      add_state_outputs(in, bh / H, bh % H, t0, q, entering, c == 0 ? 1 : chunks, o_rows(bh / H, bh % H, t0));
    }
  });
  return {o, passed.final_state.view({B, H, dk, dv})};
}

// CUDA: pass 1 makes every chunk's own state and decay, the scan core passes the states along
// the chunks, pass 2 reruns every chunk from its entering state (recurrent/wkv6.cu).
inline Wkv6Result wkv6_cuda(const Tensor& r, const Tensor& k, const Tensor& v, const Tensor& w, const Tensor& u,
                            const Tensor& initial_state, const Sizes& s, std::int64_t chunk_length) {
  const Device device = r.device();
  const DType input = r.dtype(), state = float_precision(input);
  const std::int64_t BH = s.B * s.H;
  const std::int64_t Q = detail::cuda_chunk_length(BH * s.dv, s.L, chunk_length, kCudaMinChunk);
  const std::int64_t chunks = std::max<std::int64_t>((s.L + Q - 1) / Q, 1);
  const Tensor rc = r.contiguous(), kc = k.contiguous(), vc = v.contiguous(), wc = w.contiguous(), uc = u.contiguous();
  const detail::Wkv6CudaParams p{{input, s.B, s.L, s.H, s.dk, s.dv}, Q, chunks, rc.raw_data(), kc.raw_data(),
                                 vc.raw_data(), wc.raw_data(), uc.raw_data()};
  const Tensor h0 = initial_state.defined() ? initial_state.to(state).contiguous() : Tensor{};
  Wkv6Result res{Tensor::empty({s.B, s.L, s.H, s.dv}, input, device), Tensor::empty({s.B, s.H, s.dk, s.dv}, state, device)};
  if (BH * s.dv == 0) return res;
  Tensor passed;
  if (chunks > 1) {
    const Tensor own = Tensor::empty({BH * s.dk, s.dv, chunks}, state, device),
                 decay = Tensor::empty({BH * s.dk, 1, chunks}, state, device);
    check_launch(kOp, device, detail::launch_wkv6_chunk_states(p, own.raw_data(), decay.raw_data()));
    // Every element of a key row decays alike, so the decay is broadcast over d_v.
    passed = scan::linear_recurrence(decay.expand({BH * s.dk, s.dv, chunks}), own,
                                     h0.defined() ? h0.view({BH * s.dk, s.dv}) : Tensor{})
                 .h;
  }
  check_launch(kOp, device,
               detail::launch_wkv6_outputs(p, h0.defined() ? h0.raw_data() : nullptr,
                                           passed.defined() ? passed.raw_data() : nullptr, res.o.raw_data(),
                                           res.final_state.raw_data()));
  return res;
}

}  // namespace

Wkv6Result wkv6(const Tensor& r, const Tensor& k, const Tensor& v, const Tensor& w, const Tensor& u,
                const Wkv6Options& options) {
  const Tensor& initial_state = options.initial_state;
  const std::int64_t chunk_length = options.chunk_length;
  const Sizes s = validate(r, k, v, w, u, initial_state);
  SUBQ_CHECK(chunk_length >= 0, "{}: chunk_length must be >= 0, found {}", kOp, chunk_length);
  if (r.device().is_cuda())
    return on_cuda(kOp, r.device(), [&] { return wkv6_cuda(r, k, v, w, u, initial_state, s, chunk_length); });
  // Two heads per thread at least, so that the stepped form keeps every thread busy; else chunks
  // run in parallel along the sequence.
  const bool stepped = chunk_length == 0 && s.B * s.H >= 2 * ThreadPool::global().size();
  return dispatch(FloatTypes{}, kOp, r.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const Inputs<T> in = prepare<T>(r, k, v, w, u, s);
    return stepped
               ? stepped_typed(in, initial_state)
               : parallel_chunks_typed(with_decay(in), initial_state, chunk_length > 0 ? chunk_length : kDefaultChunk);
  });
}

Wkv6Result wkv6_recurrent(const Tensor& r, const Tensor& k, const Tensor& v, const Tensor& w, const Tensor& u,
                          const Tensor& initial_state) {
  const Sizes s = validate(r, k, v, w, u, initial_state);
  // On CUDA one chunk is the whole sequence stepped once.
  if (r.device().is_cuda())
    return on_cuda(kOp, r.device(),
                   [&] { return wkv6_cuda(r, k, v, w, u, initial_state, s, std::max<std::int64_t>(s.L, 1)); });
  return dispatch(FloatTypes{}, kOp, r.dtype(),
                  [&](auto zero) { return stepped_typed(prepare<decltype(zero)>(r, k, v, w, u, s), initial_state); });
}

}  // namespace subq::recurrent
