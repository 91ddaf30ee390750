#include "recurrent/wkv7.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "core/check.hpp"
#include "core/dispatch.hpp"
#include "core/eigen_views.hpp"
#include "core/thread_pool.hpp"
#include "core/vector_math.hpp"
#include "recurrent/head_spans.hpp"
#include "recurrent/wkv_checks.hpp"

namespace subq::recurrent {

namespace {

constexpr const char* kOp = "wkv7";

template <class T>
using Vector = Eigen::Array<T, 1, Eigen::Dynamic>;

struct Sizes {
  std::int64_t B, L, H, dk, dv;
};

Sizes validate(const Tensor& r, const Tensor& w, const Tensor& k, const Tensor& v, const Tensor& a, const Tensor& b,
               const Tensor& initial_state) {
  SUBQ_CHECK(r.defined() && r.dim() == 4, "{}: r: expected (batch, length, heads, d_k), found {}", kOp,
             r.defined() ? to_string(r.shape()) : "nothing");
  for (const auto& [name, t] : {std::pair{"w", &w}, std::pair{"k", &k}, std::pair{"a", &a}, std::pair{"b", &b}})
    check_shape(kOp, name, *t, r.shape());
  const std::int64_t B = r.size(0), L = r.size(1), H = r.size(2), dk = r.size(3);
  SUBQ_CHECK(v.defined() && v.dim() == 4 && v.size(0) == B && v.size(1) == L && v.size(2) == H,
             "{}: v: expected ({}, {}, {}, d_v), found {}", kOp, B, L, H, v.defined() ? to_string(v.shape()) : "nothing");
  if (initial_state.defined()) check_shape(kOp, "initial_state", initial_state, {B, H, v.size(3), dk});
  detail::check_wkv_inputs(kOp, r, {{"w", &w}, {"k", &k}, {"v", &v}, {"a", &a}, {"b", &b}}, initial_state, dk, v.size(3));
  return {B, L, H, dk, v.size(3)};
}

// The inputs in the compute type, contiguous; rows of one (batch, head) are time steps.
template <class T>
struct Inputs {
  Tensor r, w, k, v, a, b;
  Tensor decay;  // exp(w) where asked for: the forms over spans exp what they gather
  Sizes s;

  Inputs(const Tensor& r_in, const Tensor& w_in, const Tensor& k_in, const Tensor& v_in, const Tensor& a_in,
         const Tensor& b_in, const Sizes& sizes, bool with_decay)
      : r(as(r_in)), w(as(w_in)), k(as(k_in)), v(as(v_in)), a(as(a_in)), b(as(b_in)), s(sizes) {
    if (!with_decay) return;
    decay = w.clone();
    parallel_exp(decay.data<T>(), decay.numel());
  }
  static Tensor as(const Tensor& t) { return t.to(dtype_of<T>).contiguous(); }
  // Rows t0 .. t0+q of one (batch, head) of a key-sized (d == dk) or value-sized input.
  StridedRows<T> rows(const Tensor& t, std::int64_t bi, std::int64_t h, std::int64_t t0, std::int64_t q) const {
    const std::int64_t d = t.size(3);
    return StridedRows<T>(t.data<T>() + ((bi * s.L + t0) * s.H + h) * d, q, d, Eigen::OuterStride<>(s.H * d));
  }
};

template <class T>
RowMatrix<T> entering_state(const Tensor& initial_state, std::int64_t bh, const Sizes& s) {
  if (!initial_state.defined()) return RowMatrix<T>::Zero(s.dv, s.dk);
  return Eigen::Map<const RowMatrix<T>>(initial_state.data<T>() + bh * s.dv * s.dk, s.dv, s.dk);
}

// One step: S (d_v x d_k) from the state before it; writes o[t] = S r.
template <class T>
void step(RowMatrix<T>& S, const T* r, const T* decay, const T* k, const T* v, const T* a, const T* b, T* o) {
  const Eigen::Index dv = S.rows(), dk = S.cols();
  const Eigen::Map<const Vector<T>> rv(r, dk), dec(decay, dk), kv(k, dk), av(a, dk), bv(b, dk);
  for (Eigen::Index i = 0; i < dv; ++i) {
    auto row = S.row(i).array();
    const T s_a = (row * av).sum();  // (S a)[i], from the state before the step
    row = row * dec + s_a * bv + v[i] * kv;
    o[i] = (row * rv).sum();
  }
}

// Threads over (batch, head): each state runs from its entering value through the sequence,
// advance(S, batch, head, t0, q, outputs) moving it over the q steps from t0 and writing their
// outputs; then it is the final state. A thread takes its heads' states through time together, a
// chunk of all of them before the next: the heads of one step lie side by side in memory, so the
// inputs are read in order rather than a head's rows across the whole sequence at a time (pages
// and cache lines far apart, which made long sequences slower per token).
template <class T, class Advance>
Wkv7Result over_heads(const Inputs<T>& in, const Tensor& initial_state, std::int64_t Q, Advance advance) {
  const Sizes& s = in.s;
  Wkv7Result res{Tensor::empty({s.B, s.L, s.H, s.dv}, dtype_of<T>), Tensor::empty({s.B, s.H, s.dv, s.dk}, dtype_of<T>)};
  ThreadPool::global().parallel_for(s.B * s.H, [&](std::int64_t begin, std::int64_t end) {
    std::vector<RowMatrix<T>> S;
    for (std::int64_t bh = begin; bh < end; ++bh) S.push_back(entering_state<T>(initial_state, bh, s));
    for (std::int64_t t0 = 0; t0 < s.L; t0 += Q)
      for (std::int64_t bh = begin; bh < end; ++bh) {
        const std::int64_t bi = bh / s.H, h = bh % s.H;
        advance(S[std::size_t(bh - begin)], bi, h, t0, std::min(Q, s.L - t0),
                res.o.data<T>() + ((bi * s.L + t0) * s.H + h) * s.dv);
      }
    for (std::int64_t bh = begin; bh < end; ++bh)
      Eigen::Map<RowMatrix<T>>(res.final_state.data<T>() + bh * s.dv * s.dk, s.dv, s.dk) = S[std::size_t(bh - begin)];
  });
  return res;
}

template <class T>
Wkv7Result recurrent_typed(const Inputs<T>& in, const Tensor& initial_state) {
  return over_heads(in, initial_state, 1,
                    [&](RowMatrix<T>& S, std::int64_t bi, std::int64_t h, std::int64_t t, std::int64_t, T* o) {
                      auto row = [&](const Tensor& x) { return in.rows(x, bi, h, t, 1).data(); };
                      step(S, row(in.r), row(in.decay), row(in.k), row(in.v), row(in.a), row(in.b), o);
                    });
}

// The stepped form over spans, for calls of kSpanSteps steps or more. Per head the state is held
// transposed, St (d_k x d_v), a row per key, so that S a and S r are FMAs of whole rows into lanes
// of values rather than sums across a lane. A lane of values at a time goes through a span of
// steps, its d_k rows (4 KiB at 64 float32) in L1: per step and state element an FMA for S a, a
// multiply and two FMAs for the update, an FMA for S r.
constexpr std::int64_t kKeyUnroll = 4;  // the sums of S a; d_k is padded to a multiple

// One group's span: the key-sized inputs (d_k padded), decay = exp(w), v and the outputs (d_v
// padded to whole lanes).
template <class T>
struct StepSpans {
  detail::HeadSpan<T> r, decay, k, a, b, v, o;
  StepSpans(std::int64_t heads, std::int64_t dk, std::int64_t dv)
      : r(heads, dk), decay(heads, dk), k(heads, dk), a(heads, dk), b(heads, dk), v(heads, dv), o(heads, dv) {}
};

template <class T>
void gather_span(const Inputs<T>& in, const detail::SpanPlace& place, StepSpans<T>& sp) {
  const std::int64_t dk = in.s.dk;
  for (const auto& [from, to] : {std::pair{&in.r, &sp.r}, std::pair{&in.w, &sp.decay}, std::pair{&in.k, &sp.k},
                                 std::pair{&in.a, &sp.a}, std::pair{&in.b, &sp.b}})
    detail::gather(from->template data<T>(), dk, place, *to);
  detail::gather(in.v.template data<T>(), in.s.dv, place, sp.v);
  detail::exp_rows(sp.decay, dk, place);
}

// Values i0 .. i0 + kLane of group head g's transposed state St (rows of sp.v's width) through
// the span's `steps` steps, writing their outputs.
template <class T>
void step_lanes(StepSpans<T>& sp, std::int64_t g, std::int64_t steps, T* St, std::int64_t i0) {
  using Lane = detail::Lane<T>;
  const std::int64_t dk = sp.r.width(), dv = sp.v.width();
  auto row = [&](std::int64_t j) { return Eigen::Map<Lane>(St + j * dv + i0); };
  for (std::int64_t t = 0; t < steps; ++t) {
    const T *r = sp.r.row(g, t), *decay = sp.decay.row(g, t), *k = sp.k.row(g, t), *a = sp.a.row(g, t),
            *b = sp.b.row(g, t);
    // Four sums for S a and two for S r, so that no chain of dependent FMAs holds up the rest.
    Lane sa0 = Lane::Zero(), sa1 = Lane::Zero(), sa2 = Lane::Zero(), sa3 = Lane::Zero();
    for (std::int64_t j = 0; j < dk; j += kKeyUnroll) {
      sa0 += row(j) * a[j];
      sa1 += row(j + 1) * a[j + 1];
      sa2 += row(j + 2) * a[j + 2];
      sa3 += row(j + 3) * a[j + 3];
    }
    const Lane sa = (sa0 + sa1) + (sa2 + sa3), v = Eigen::Map<const Lane>(sp.v.row(g, t) + i0);
    Lane even = Lane::Zero(), odd = Lane::Zero();
    for (std::int64_t j = 0; j < dk; j += 2) {
      auto s0 = row(j), s1 = row(j + 1);
      s0 = s0 * decay[j] + sa * b[j] + v * k[j];
      even += s0 * r[j];
      s1 = s1 * decay[j + 1] + sa * b[j + 1] + v * k[j + 1];
      odd += s1 * r[j + 1];
    }
    Eigen::Map<Lane>(sp.o.row(g, t) + i0) = even + odd;
  }
}

template <class T>
Wkv7Result spans_typed(const Inputs<T>& in, const Tensor& initial_state) {
  const Sizes& s = in.s;
  Wkv7Result res{Tensor::empty({s.B, s.L, s.H, s.dv}, dtype_of<T>), Tensor::empty({s.B, s.H, s.dv, s.dk}, dtype_of<T>)};
  const std::int64_t dk = detail::round_up(s.dk, kKeyUnroll), dv = detail::round_up(s.dv, detail::kLane<T>);
  detail::for_head_groups(s.B * s.H, [&](std::int64_t bh_begin, std::int64_t bh_end) {
    StepSpans<T> sp(bh_end - bh_begin, dk, dv);
    std::vector<T> states(std::size_t((bh_end - bh_begin) * dk * dv), T(0));  // St per head, padded
    auto St = [&](std::int64_t bh) { return states.data() + (bh - bh_begin) * dk * dv; };
    if (initial_state.defined())
      for (std::int64_t bh = bh_begin; bh < bh_end; ++bh)
        transpose(initial_state.data<T>() + bh * s.dv * s.dk, s.dk, St(bh), dv, s.dv, s.dk);
    for (std::int64_t t0 = 0; t0 < s.L; t0 += detail::kSpanSteps) {
      const detail::SpanPlace place{s.L, s.H, bh_begin, bh_end, t0, std::min(detail::kSpanSteps, s.L - t0)};
      gather_span(in, place, sp);
      for (std::int64_t bh = bh_begin; bh < bh_end; ++bh) {
        for (const Tensor* x : {&in.r, &in.w, &in.k, &in.v, &in.a, &in.b})
          detail::prefetch(x->template data<T>(), x->size(3), detail::next_span(place), bh - bh_begin);
        for (std::int64_t i0 = 0; i0 < dv; i0 += detail::kLane<T>)
          step_lanes(sp, bh - bh_begin, place.steps, St(bh), i0);
      }
      detail::scatter(sp.o, s.dv, place, res.o.data<T>());
    }
    for (std::int64_t bh = bh_begin; bh < bh_end; ++bh)
      transpose(St(bh), dv, res.final_state.data<T>() + bh * s.dv * s.dk, s.dk, s.dk, s.dv);
  });
  return res;
}

// The decays a chunk of q steps applies, with G[t] the decay from the chunk's start through t:
// the rows that read the state, [a[t] G[t-1]; r[t] G[t]] (u[t] = S[t-1] a[t] reads it before step
// t, o[t] = S[t] r[t] after), the rows written into the state as the chunk's end sees them,
// [b[s] G[q-1] / G[s]; k[s] G[q-1] / G[s]], and G[q-1]. All are running products of decays <= 1.
template <class T>
struct ChunkDecays {
  RowMatrix<T> readers, written;  // (2q, d_k) each
  Vector<T> total;             // (d_k)
};

template <class T>
ChunkDecays<T> chunk_decays(const RowMatrix<T>& r, const RowMatrix<T>& decay, const RowMatrix<T>& k,
                            const RowMatrix<T>& a, const RowMatrix<T>& b) {
  const Eigen::Index q = r.rows(), dk = r.cols();
  ChunkDecays<T> c{RowMatrix<T>(2 * q, dk), RowMatrix<T>(2 * q, dk), Vector<T>::Ones(dk)};
  for (Eigen::Index t = 0; t < q; ++t) {
    c.readers.row(t) = a.row(t).array() * c.total;
    c.total *= decay.row(t).array();
    c.readers.row(q + t) = r.row(t).array() * c.total;
  }
  Vector<T> after = Vector<T>::Ones(dk);
  for (Eigen::Index s = q - 1; s >= 0; --s) {
    c.written.row(s) = b.row(s).array() * after;
    c.written.row(q + s) = k.row(s).array() * after;
    after *= decay.row(s).array();
  }
  return c;
}

// Decay-weighted inner products within a chunk, (q x q): for s < t, ab and ak through the decays
// strictly between s and t (what u[t] sees), and for s <= t, rb and rk through the decays after s
// up to t (what o[t] sees).
template <class T>
struct PairProducts {
  RowMatrix<T> ab, ak, rb, rk;
};

// The decay between s and t is G[t] / G[s], so the four products are one matrix product of the
// readers with the written rows divided by G[q-1]: exact up to rounding while that division
// stays far from overflow, which kMinChunkDecay guards.
template <class T>
constexpr T kMinChunkDecay = std::is_same_v<T, float> ? T(1e-20) : T(1e-200);

template <class T>
PairProducts<T> pair_products_by_matmul(const ChunkDecays<T>& c) {
  const Eigen::Index q = c.readers.rows() / 2;
  const RowMatrix<T> written_from_start = c.written.array().rowwise() / c.total;
  const RowMatrix<T> all = c.readers * written_from_start.transpose();
  const auto strictly_lower = [](const auto& m) { return RowMatrix<T>(m.template triangularView<Eigen::StrictlyLower>()); };
  const auto lower = [](const auto& m) { return RowMatrix<T>(m.template triangularView<Eigen::Lower>()); };
  return {strictly_lower(all.topLeftCorner(q, q)), strictly_lower(all.topRightCorner(q, q)),
          lower(all.bottomLeftCorner(q, q)), lower(all.bottomRightCorner(q, q))};
}

// The same with the decay between s and t as a running product, for chunks that decay too much.
template <class T>
PairProducts<T> pair_products_by_steps(const RowMatrix<T>& r, const RowMatrix<T>& decay, const RowMatrix<T>& k,
                                       const RowMatrix<T>& a, const RowMatrix<T>& b) {
  const Eigen::Index q = r.rows(), dk = r.cols();
  PairProducts<T> p{RowMatrix<T>::Zero(q, q), RowMatrix<T>::Zero(q, q), RowMatrix<T>::Zero(q, q), RowMatrix<T>::Zero(q, q)};
  Vector<T> through(dk), r_decayed(dk), b_through(dk), k_through(dk);
  for (Eigen::Index t = 0; t < q; ++t) {
    p.rb(t, t) = r.row(t).dot(b.row(t));
    p.rk(t, t) = r.row(t).dot(k.row(t));
    r_decayed = r.row(t).array() * decay.row(t).array();
    through.setOnes();  // prod of decay over s < m < t
    for (Eigen::Index s = t - 1; s >= 0; --s) {
      b_through = through * b.row(s).array();
      k_through = through * k.row(s).array();
      p.ab(t, s) = (a.row(t).array() * b_through).sum();
      p.ak(t, s) = (a.row(t).array() * k_through).sum();
      p.rb(t, s) = (r_decayed * b_through).sum();
      p.rk(t, s) = (r_decayed * k_through).sum();
      through *= decay.row(s).array();
    }
  }
  return p;
}

// One chunk of q steps from the entering state S (d_v x d_k), which it advances; writes the
// chunk's outputs. u[t] = S a[t] G[t-1] + sum_{s<t} ab[t,s] u[s] + ak[t,s] v[s] is one unit
// lower-triangular solve for U (q x d_v); then o[t] = sum_{s<=t} rb[t,s] u[s] + rk[t,s] v[s]
// + S r[t] G[t], and S' = S diag(G[q-1]) + U^T b_written + V^T k_written.
template <class T>
void chunk_step(const Inputs<T>& in, std::int64_t bi, std::int64_t h, std::int64_t t0, std::int64_t q, RowMatrix<T>& S,
                T* o_rows) {
  const std::int64_t dv = in.s.dv;
  // Copied out: the rows lie H * d apart, for the usual powers of two in the same L1 sets, and the
  // products below revisit each of them.
  const RowMatrix<T> r = in.rows(in.r, bi, h, t0, q), decay = in.rows(in.decay, bi, h, t0, q),
                     k = in.rows(in.k, bi, h, t0, q), v = in.rows(in.v, bi, h, t0, q), a = in.rows(in.a, bi, h, t0, q),
                     b = in.rows(in.b, bi, h, t0, q);
  const ChunkDecays<T> c = chunk_decays(r, decay, k, a, b);
  const PairProducts<T> p =
      c.total.minCoeff() >= kMinChunkDecay<T> ? pair_products_by_matmul(c) : pair_products_by_steps(r, decay, k, a, b);
  RowMatrix<T> U = c.readers.topRows(q) * S.transpose();
  U.noalias() += p.ak * v;
  const RowMatrix<T> identity_minus_ab = -p.ab;  // its unit diagonal is implied
  identity_minus_ab.template triangularView<Eigen::UnitLower>().solveInPlace(U);
  Eigen::Map<RowMatrix<T>, 0, Eigen::OuterStride<>> O(o_rows, q, dv, Eigen::OuterStride<>(in.s.H * dv));
  O.noalias() = c.readers.bottomRows(q) * S.transpose();
  O.noalias() += p.rb * U;
  O.noalias() += p.rk * v;
  S = S.array().rowwise() * c.total;
  S.noalias() += U.transpose() * c.written.topRows(q);
  S.noalias() += v.transpose() * c.written.bottomRows(q);
}

template <class T>
Wkv7Result chunked_typed(const Inputs<T>& in, const Tensor& initial_state, std::int64_t Q) {
  return over_heads(in, initial_state, Q,
                    [&](RowMatrix<T>& S, std::int64_t bi, std::int64_t h, std::int64_t t0, std::int64_t q, T* o) {
                      chunk_step(in, bi, h, t0, q, S, o);
                    });
}

// chunk_length 0 steps: over spans from kSpanSteps steps, else (decoding) the state in place, as
// transposing it in and out would cost more than a few steps.
template <class T>
Wkv7Result run(const Tensor& r, const Tensor& w, const Tensor& k, const Tensor& v, const Tensor& a, const Tensor& b,
               const Tensor& initial_state, const Sizes& s, std::int64_t chunk_length) {
  const bool over_spans = chunk_length == 0 && s.L >= detail::kSpanSteps;
  const Inputs<T> in(r, w, k, v, a, b, s, !over_spans);
  const Tensor h0 = initial_state.defined() ? Inputs<T>::as(initial_state) : Tensor{};
  if (over_spans) return spans_typed(in, h0);
  return chunk_length > 0 ? chunked_typed(in, h0, chunk_length) : recurrent_typed(in, h0);
}

// CUDA: the recurrent form, one block per batch x head (recurrent/wkv7.cu).
inline Wkv7Result wkv7_cuda(const Tensor& r, const Tensor& w, const Tensor& k, const Tensor& v, const Tensor& a,
                            const Tensor& b, const Tensor& initial_state, const Sizes& s) {
  const Device device = r.device();
  const DType input = r.dtype(), state = float_precision(input);
  const Tensor rc = r.contiguous(), wc = w.contiguous(), kc = k.contiguous(), vc = v.contiguous(), ac = a.contiguous(),
               bc = b.contiguous();
  const Tensor h0 = initial_state.defined() ? initial_state.to(state).contiguous() : Tensor{};
  Wkv7Result res{Tensor::empty({s.B, s.L, s.H, s.dv}, input, device), Tensor::empty({s.B, s.H, s.dv, s.dk}, state, device)};
  if (s.B * s.H * s.dv == 0) return res;
  const detail::Wkv7CudaParams p{{input, s.B, s.L, s.H, s.dk, s.dv}, rc.raw_data(), wc.raw_data(), kc.raw_data(), vc.raw_data(),
                                 ac.raw_data(), bc.raw_data(), h0.defined() ? h0.raw_data() : nullptr, res.o.raw_data(),
                                 res.final_state.raw_data()};
  check_launch(kOp, device, detail::launch_wkv7(p));
  return res;
}

Wkv7Result wkv7_on_device(const Tensor& r, const Tensor& w, const Tensor& k, const Tensor& v, const Tensor& a,
                          const Tensor& b, const Tensor& initial_state, std::int64_t chunk_length) {
  const Sizes s = validate(r, w, k, v, a, b, initial_state);
  if (r.device().is_cuda())
    return on_cuda(kOp, r.device(), [&] { return wkv7_cuda(r, w, k, v, a, b, initial_state, s); });
  return dispatch(FloatTypes{}, kOp, r.dtype(),
                  [&](auto zero) { return run<decltype(zero)>(r, w, k, v, a, b, initial_state, s, chunk_length); });
}

}  // namespace

Wkv7Result wkv7(const Tensor& r, const Tensor& w, const Tensor& k, const Tensor& v, const Tensor& a, const Tensor& b,
                const Wkv7Options& options) {
  const std::int64_t chunk_length = options.chunk_length;
  SUBQ_CHECK(chunk_length >= 0, "{}: chunk_length must be >= 0, found {}", kOp, chunk_length);
  return wkv7_on_device(r, w, k, v, a, b, options.initial_state, chunk_length);
}

Wkv7Result wkv7_recurrent(const Tensor& r, const Tensor& w, const Tensor& k, const Tensor& v, const Tensor& a,
                          const Tensor& b, const Tensor& initial_state) {
  return wkv7_on_device(r, w, k, v, a, b, initial_state, 0);
}

}  // namespace subq::recurrent
