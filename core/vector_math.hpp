#pragma once
// Internal, CPU only: core/math.hpp's element-wise functions over a span of values, vectorised
// with Eigen at the library's ISA. The same formulas; Eigen's vectorised exp is within an ulp or
// two of std::exp, flushes results below float's normal range to zero, and passes NaN and
// infinities through as std::exp does.
#include <Eigen/Core>
#include <algorithm>
#include <cstdint>

#include "core/math.hpp"
#include "core/thread_pool.hpp"

namespace subq {

namespace detail {

// Values go through the vector code 16 at a time, the tail padded: on a span of any length and
// address, as Eigen left alone would take an unaligned head one value at a time through std::exp,
// and results would depend on where the data lies.
constexpr std::int64_t kSpanBlock = 16;
template <class T>
using SpanBlock = Eigen::Array<T, kSpanBlock, 1>;

/// p[i] = f(block of p)[i % 16] for i < n, f mapping a SpanBlock to one.
template <class T, class F>
void transform_blocks(T* p, std::int64_t n, F f) {
  std::int64_t i = 0;
  for (; i + kSpanBlock <= n; i += kSpanBlock) {
    Eigen::Map<SpanBlock<T>> block(p + i);
    block = f(SpanBlock<T>(block));
  }
  if (i == n) return;
  SpanBlock<T> tail = SpanBlock<T>::Zero();
  std::copy(p + i, p + n, tail.data());
  tail = f(tail);
  std::copy(tail.data(), tail.data() + (n - i), p + i);
}

}  // namespace detail

/// p[i] = activation(f, p[i]) for i < n.
template <class T>
void activate_span(T* p, std::int64_t n, Activation f) {
  using Block = detail::SpanBlock<T>;
  switch (f) {
    case Activation::Identity: return;
    case Activation::Sigmoid:
      return detail::transform_blocks(p, n, [](const Block& x) -> Block { return T(1) / (T(1) + (-x).exp()); });
    case Activation::Silu:
      return detail::transform_blocks(p, n, [](const Block& x) -> Block { return x / (T(1) + (-x).exp()); });
    case Activation::NegExp: return detail::transform_blocks(p, n, [](const Block& x) -> Block { return -x.exp(); });
    case Activation::Rwkv7Decay:
      return detail::transform_blocks(
          p, n, [](const Block& x) -> Block { return T(-0.6065306597126334f) * (T(1) / (T(1) + (-x).exp())); });
    case Activation::ReluSquare:
    case Activation::Tanh: break;
  }
  for (std::int64_t i = 0; i < n; ++i) p[i] = activation(f, p[i]);
}

/// p[i] = exp(p[i]) for i < n.
template <class T>
void exp_span(T* p, std::int64_t n) {
  detail::transform_blocks(p, n, [](const detail::SpanBlock<T>& x) -> detail::SpanBlock<T> { return x.exp(); });
}

/// exp_span over [0, n) on the pool's threads, in runs of 1024 values (whole cache lines each).
template <class T>
void parallel_exp(T* p, std::int64_t n, ThreadPool& pool = ThreadPool::global()) {
  constexpr std::int64_t kRun = 1024;
  pool.parallel_for((n + kRun - 1) / kRun, [&](std::int64_t begin, std::int64_t end) {
    exp_span(p + begin * kRun, std::min(end * kRun, n) - begin * kRun);
  });
}

/// p[i] = softplus(p[i]) for i < n: log1p(exp(x)), and x itself above the threshold of 20.
template <class T>
void softplus_span(T* p, std::int64_t n) {
  using Block = detail::SpanBlock<T>;
  detail::transform_blocks(p, n, [](const Block& x) -> Block {
    Block soft = x.exp().log1p();
    for (std::int64_t i = 0; i < detail::kSpanBlock; ++i) soft(i) = x(i) > T(20) ? x(i) : soft(i);
    return soft;
  });
}

}  // namespace subq
