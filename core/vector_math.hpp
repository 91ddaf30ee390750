#pragma once
// Internal, CPU only: core/math.hpp's element-wise functions over a span of values, vectorised
// with Eigen at the library's ISA. The same formulas; Eigen's vectorised exp is within an ulp or
// two of std::exp, flushes results below float's normal range to zero, and passes NaN and
// infinities through as std::exp does.
#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <cstring>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

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
    case Activation::Tanh:
    case Activation::GeluTanh: break;
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

// Eigen's packet types are SIMD types with attributes, which GCC drops (and says so) when they are
// template arguments; Eigen's own code does the same.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"

namespace detail {

/// a >= b ? x : y, lane by lane, for fixed-size arrays: in whole packets of the library's ISA
/// where the size allows, else one value at a time. Eigen 3.4's select() is a scalar loop, which
/// cost softplus_span more than its exp and log1p.
template <class Array>
Array where_at_least(const Array& a, const Array& b, const Array& x, const Array& y) {
  namespace ei = Eigen::internal;
  using T = typename Array::Scalar;
  using Packet = typename ei::packet_traits<T>::type;
  constexpr int kSize = ei::unpacket_traits<Packet>::size, n = Array::SizeAtCompileTime;
  Array out;
  if constexpr (n % kSize == 0) {
    for (int i = 0; i < n; i += kSize) {
      const Packet below = ei::pcmp_lt(ei::ploadu<Packet>(a.data() + i), ei::ploadu<Packet>(b.data() + i));
      ei::pstoreu(out.data() + i,
                  ei::pselect(below, ei::ploadu<Packet>(y.data() + i), ei::ploadu<Packet>(x.data() + i)));
    }
  } else {
    for (int i = 0; i < n; ++i) out[i] = a[i] >= b[i] ? x[i] : y[i];
  }
  return out;
}

}  // namespace detail

/// p[i] = softplus(p[i]) for i < n: log1p(exp(x)), and x itself above the threshold of 20.
template <class T>
void softplus_span(T* p, std::int64_t n) {
  using Block = detail::SpanBlock<T>;
  detail::transform_blocks(p, n, [](const Block& x) -> Block {
    return detail::where_at_least(Block(Block::Constant(T(20))), x, Block(x.exp().log1p()), x);
  });
}

/// dst[c * dst_stride + r] = src[r * src_stride + c] for r < rows, c < cols: square tiles of the
/// ISA's packet width through Eigen's register transposes, the edges one value at a time. A
/// scalar transpose costs two memory operations per value, as much as the scan steps it feeds.
template <class T>
void transpose(const T* src, std::int64_t src_stride, T* dst, std::int64_t dst_stride, std::int64_t rows,
               std::int64_t cols) {
  namespace ei = Eigen::internal;
  using Packet = typename ei::packet_traits<T>::type;
  constexpr std::int64_t kSize = ei::unpacket_traits<Packet>::size;
  const std::int64_t whole_rows = rows / kSize * kSize, whole_cols = cols / kSize * kSize;
  for (std::int64_t r0 = 0; r0 < whole_rows; r0 += kSize)
    for (std::int64_t c0 = 0; c0 < whole_cols; c0 += kSize) {
      ei::PacketBlock<Packet, int(kSize)> tile;
      for (std::int64_t i = 0; i < kSize; ++i) tile.packet[i] = ei::ploadu<Packet>(src + (r0 + i) * src_stride + c0);
      ei::ptranspose(tile);
      for (std::int64_t i = 0; i < kSize; ++i) ei::pstoreu(dst + (c0 + i) * dst_stride + r0, tile.packet[i]);
    }
  auto one_by_one = [&](std::int64_t r_begin, std::int64_t r_end, std::int64_t c_begin, std::int64_t c_end) {
    for (std::int64_t r = r_begin; r < r_end; ++r)
      for (std::int64_t c = c_begin; c < c_end; ++c) dst[c * dst_stride + r] = src[r * src_stride + c];
  };
  one_by_one(0, whole_rows, whole_cols, cols);
  one_by_one(whole_rows, rows, 0, cols);
}

#pragma GCC diagnostic pop

/// Whether an output of this many bytes is better stored past the caches (stream_copy): from 32
/// MiB, the last-level cache of this project's machine kind, it would not be in cache for the
/// next op anyway, and ordinary stores would first read every line from memory.
inline bool streams_past_caches(std::int64_t bytes) { return bytes >= (std::int64_t(32) << 20); }

/// Asks for p[0, n) to be brought into the caches, a 64-byte line at a time: for reads a kernel
/// knows it will make after the work in hand, where the prefetchers would not foresee them (rows
/// far apart, each shorter than a page).
template <class T>
void prefetch_span(const T* p, std::int64_t n) {
  const char* bytes = reinterpret_cast<const char*>(p);
  for (std::int64_t b = 0; b < n * std::int64_t(sizeof(T)); b += 64) __builtin_prefetch(bytes + b, 0, 2);
}

/// dst[i] = src[i] for i < n, with stores that bypass the caches (non-temporal) where dst's
/// 64-byte lines allow: for outputs larger than the caches, which ordinary stores would first
/// read from memory (a third of the traffic of a stream that reads one value per value written).
/// Call stream_fence() before other threads read dst.
template <class T>
void stream_copy(const T* src, T* dst, std::int64_t n) {
  std::int64_t head = 0;
#if defined(__SSE2__)  // AVX and AVX-512 imply it
  constexpr std::int64_t kLine = 64;
  const auto address = reinterpret_cast<std::uintptr_t>(dst);
  head = std::min<std::int64_t>(n, std::int64_t((kLine - address % kLine) % kLine) / std::int64_t(sizeof(T)));
  if (address % sizeof(T) != 0) head = n;  // not even aligned to T: plain copies
  if (head > 0) std::memcpy(dst, src, std::size_t(head) * sizeof(T));
  const char* from = reinterpret_cast<const char*>(src + head);
  char* to = reinterpret_cast<char*>(dst + head);
  const std::int64_t lines = (n - head) * std::int64_t(sizeof(T)) / kLine;
  for (std::int64_t i = 0; i < lines; ++i, from += kLine, to += kLine) {
#if defined(__AVX512F__)
    _mm512_stream_si512(reinterpret_cast<__m512i*>(to), _mm512_loadu_si512(from));
#elif defined(__AVX__)
    for (int half = 0; half < 2; ++half)
      _mm256_stream_si256(reinterpret_cast<__m256i*>(to) + half,
                          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(from) + half));
#else
    for (int quarter = 0; quarter < 4; ++quarter)
      _mm_stream_si128(reinterpret_cast<__m128i*>(to) + quarter,
                       _mm_loadu_si128(reinterpret_cast<const __m128i*>(from) + quarter));
#endif
  }
  head += lines * kLine / std::int64_t(sizeof(T));
#endif
  if (head < n) std::memcpy(dst + head, src + head, std::size_t(n - head) * sizeof(T));
}

/// Orders this thread's stream_copy stores before its later stores.
inline void stream_fence() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

}  // namespace subq
