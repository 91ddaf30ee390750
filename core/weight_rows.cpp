#include "core/weight_rows.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#if defined(__F16C__) || defined(__AVX512F__)
#include <immintrin.h>  // the conversions GCC's vector types do not vectorise (see their uses)
#endif

#include "core/check.hpp"

// The kernels are written once with GCC/Clang vector types, which the compiler lowers to the
// widest vectors the build targets (AVX-512 or AVX2 with -march=native, SSE2 in a portable build).
// Their by-value passing differs between those ABIs, which is irrelevant inside this file.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace subq::detail {

namespace {

using Floats = float __attribute__((vector_size(64)));  // 16 lanes
using Shorts = std::uint16_t __attribute__((vector_size(32)));
using Words = std::uint32_t __attribute__((vector_size(64)));
using Nibbles = std::uint8_t __attribute__((vector_size(16)));  // 16 bytes of codes
using Ints = std::int32_t __attribute__((vector_size(64)));

constexpr std::int64_t kBlock = 32;  // elements per block of the q formats, and per step of the float ones

Floats load_floats(const float* p) {
  Floats v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void store_floats(float* p, Floats v) { std::memcpy(p, &v, sizeof v); }

float sum_lanes(Floats v) {
  float s = 0;
  for (int i = 0; i < 16; ++i) s += v[i];
  return s;
}

// 16 unsigned bytes as floats. GCC 12 vectorises the widening to int32 and the int32 conversion,
// but converts bytes straight to float (and signed bytes to anything) one lane at a time.
Floats widen_bytes(Nibbles u) { return __builtin_convertvector(__builtin_convertvector(u, Ints), Floats); }

// A q block's float16 scale: one F16C instruction where the build has it (Clang 14 has no _Float16
// on x86), else the portable conversion.
float half_to_float(const std::byte* p) {
  std::uint16_t bits;
  std::memcpy(&bits, p, 2);
#if defined(__F16C__)
  return _cvtsh_ss(bits);
#else
  return to_float(float16{bits});
#endif
}

// 32 elements of a row as two 16-lane halves, times `scale` (one for the float formats).
struct Block {
  Floats low, high;
  float scale;
};

template <DType F>
struct Format;

template <>
struct Format<DType::F32> {
  static Block block(const std::byte* row, std::int64_t b) {
    const float* p = reinterpret_cast<const float*>(row) + b * kBlock;
    return {load_floats(p), load_floats(p + 16), 1.0f};
  }
  static float element(const std::byte* row, std::int64_t i) {
    float f;
    std::memcpy(&f, row + 4 * i, 4);
    return f;
  }
};

template <>
struct Format<DType::BF16> {
  static Floats sixteen(const std::byte* p) {  // bfloat16 is float32's upper half
    Floats f;
#if defined(__AVX512F__)  // GCC widens the 16 lanes in two halves and joins them; one instruction does
    const __m512i w =
        _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16);
#else
    Shorts s;
    std::memcpy(&s, p, sizeof s);
    const Words w = __builtin_convertvector(s, Words) << 16;
#endif
    std::memcpy(&f, &w, sizeof f);
    return f;
  }
  static Block block(const std::byte* row, std::int64_t b) {
    const std::byte* p = row + 2 * b * kBlock;
    return {sixteen(p), sixteen(p + 32), 1.0f};
  }
  static float element(const std::byte* row, std::int64_t i) {
    bfloat16 h;
    std::memcpy(&h, row + 2 * i, 2);
    return to_float(h);
  }
};

template <>
struct Format<DType::F16> {
  // The F16C instructions convert 8 or 16 at once; GCC's vector types have no portable float16.
  static Floats sixteen(const std::byte* p) {
    Floats f;
#if defined(__AVX512F__)
    const __m512 wide = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    std::memcpy(&f, &wide, sizeof f);
#elif defined(__F16C__)
    const __m256 low = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    const __m256 high = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16)));
    std::memcpy(&f, &low, 32);
    std::memcpy(reinterpret_cast<char*>(&f) + 32, &high, 32);
#else
    for (int i = 0; i < 16; ++i) f[i] = half_to_float(p + 2 * i);
#endif
    return f;
  }
  static Block block(const std::byte* row, std::int64_t b) {
    const std::byte* p = row + 2 * b * kBlock;
    return {sixteen(p), sixteen(p + 32), 1.0f};
  }
  static float element(const std::byte* row, std::int64_t i) { return half_to_float(row + 2 * i); }
};

template <>
struct Format<DType::Q8_0> {
  static Block block(const std::byte* row, std::int64_t b) {
    const std::byte* p = row + 34 * b;
    return {codes(p + 2), codes(p + 18), half_to_float(p)};
  }
  // 16 int8 codes: sign-extended by the instruction where the build has it; else offset by 128
  // into unsigned bytes for widen_bytes and back.
  static Floats codes(const std::byte* p) {
#if defined(__AVX512F__)
    const __m512 wide = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
    Floats f;
    std::memcpy(&f, &wide, sizeof f);
    return f;
#else
    Nibbles u;
    std::memcpy(&u, p, 16);
    return widen_bytes(u ^ 0x80) - 128.0f;
#endif
  }
  static float element(const std::byte*, std::int64_t) { return 0; }  // rows are whole blocks
};

template <>
struct Format<DType::Q4_0> {
  static Block block(const std::byte* row, std::int64_t b) {
    const std::byte* p = row + 18 * b;
    Nibbles codes;
    std::memcpy(&codes, p + 2, 16);
    const Floats eight = Floats{} + 8.0f;
    return {widen_bytes(codes & 15) - eight, widen_bytes(codes >> 4) - eight, half_to_float(p)};
  }
  static float element(const std::byte*, std::int64_t) { return 0; }  // rows are whole blocks
};

template <DType F>
void widen_typed(const std::byte* w, std::int64_t n, std::int64_t count, float* out) {
  const std::size_t row_bytes = storage_bytes(F, n);
  const std::int64_t blocks = n / kBlock;
  for (std::int64_t r = 0; r < count; ++r, out += n) {
    const std::byte* row = w + r * row_bytes;
    for (std::int64_t b = 0; b < blocks; ++b) {
      const Block k = Format<F>::block(row, b);
      store_floats(out + b * kBlock, k.low * k.scale);
      store_floats(out + b * kBlock + 16, k.high * k.scale);
    }
    for (std::int64_t i = blocks * kBlock; i < n; ++i) out[i] = Format<F>::element(row, i);
  }
}

// Each block of a row is converted once and multiplied with all V vectors. Two accumulators per
// vector for the float formats (their blocks are independent sums), one scaled sum for the q ones.
template <DType F, int V>
void dot_typed(const std::byte* w, std::int64_t n, std::int64_t count, const float* x, float* y,
               std::int64_t y_stride) {
  const std::size_t row_bytes = storage_bytes(F, n);
  const std::int64_t blocks = n / kBlock;
  for (std::int64_t r = 0; r < count; ++r) {
    const std::byte* row = w + r * row_bytes;
    Floats low[V] = {}, high[V] = {};
    for (std::int64_t b = 0; b < blocks; ++b) {
      const Block k = Format<F>::block(row, b);
      for (int v = 0; v < V; ++v) {
        const float* xv = x + v * n + b * kBlock;
        if constexpr (F == DType::Q8_0 || F == DType::Q4_0) {
          low[v] += k.scale * (k.low * load_floats(xv) + k.high * load_floats(xv + 16));
        } else {
          low[v] += k.low * load_floats(xv);
          high[v] += k.high * load_floats(xv + 16);
        }
      }
    }
    for (int v = 0; v < V; ++v) {
      float s = sum_lanes(low[v] + high[v]);
      for (std::int64_t i = blocks * kBlock; i < n; ++i) s += Format<F>::element(row, i) * x[v * n + i];
      y[v * y_stride + r] = s;
    }
  }
}

template <class Fn>
void with_format(const char* op, DType format, Fn&& fn) {
  visit_weight_format(format, fn, [&] {
    SUBQ_FAIL("{}: {} is not a weight format (float32, bfloat16, float16, q8_0, q4_0)", op, dtype_name(format));
  });
}

void check_finite(const float* x, std::int64_t n, DType format) {
  for (std::int64_t i = 0; i < n; ++i)
    SUBQ_CHECK(std::isfinite(x[i]), "quantize to {}: element {} is {}, which has no {} code", dtype_name(format), i,
               x[i], dtype_name(format));
}

void write_half(std::byte* p, float value) {
  const float16 h = to_float16(value);
  std::memcpy(p, &h, 2);
}

// llama.cpp's quantize_row_q8_0_ref: d = max |x| / 127, codes round(x / d); d stored as float16.
void quantize_q8_0(const float* x, std::byte* block) {
  float amax = 0;
  for (int i = 0; i < kBlock; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
  write_half(block, d);
  for (int i = 0; i < kBlock; ++i) block[2 + i] = std::byte(std::int8_t(std::lround(x[i] * id)));
}

// llama.cpp's quantize_row_q4_0_ref: d = (the element of largest magnitude, with its sign) / -8,
// codes min(15, trunc(x / d + 8.5)), so that the largest element maps to code 0 exactly.
void quantize_q4_0(const float* x, std::byte* block) {
  float amax = 0, max = 0;
  for (int i = 0; i < kBlock; ++i)
    if (std::fabs(x[i]) > amax) amax = std::fabs(x[i]), max = x[i];
  const float d = max / -8.0f, id = d != 0 ? 1.0f / d : 0.0f;
  write_half(block, d);
  for (int j = 0; j < 16; ++j) {
    const int low = std::min(15, int(std::int8_t(x[j] * id + 8.5f)));
    const int high = std::min(15, int(std::int8_t(x[j + 16] * id + 8.5f)));
    block[2 + j] = std::byte(low | (high << 4));
  }
}

}  // namespace

bool is_weight_format(DType format) {
  return format == DType::F32 || format == DType::BF16 || format == DType::F16 || is_quantized(format);
}

void widen_rows(DType format, const void* w, std::int64_t n, std::int64_t count, float* out) {
  with_format("widen_rows", format,
              [&](auto f) { widen_typed<decltype(f)::value>(static_cast<const std::byte*>(w), n, count, out); });
}

void dot_rows(DType format, const void* w, std::int64_t n, std::int64_t count, const float* x, std::int64_t vectors,
              float* y, std::int64_t y_stride) {
  SUBQ_CHECK(vectors >= 1 && vectors <= kMaxDotVectors, "dot_rows: {} vectors, expected 1 to {}", vectors,
             kMaxDotVectors);
  const auto* rows = static_cast<const std::byte*>(w);
  with_format("dot_rows", format, [&](auto f) {
    switch (vectors) {
      case 1: return dot_typed<decltype(f)::value, 1>(rows, n, count, x, y, y_stride);
      case 2: return dot_typed<decltype(f)::value, 2>(rows, n, count, x, y, y_stride);
      case 3: return dot_typed<decltype(f)::value, 3>(rows, n, count, x, y, y_stride);
      default: return dot_typed<decltype(f)::value, 4>(rows, n, count, x, y, y_stride);
    }
  });
}

void quantize_rows(DType format, const float* x, std::int64_t n, std::int64_t count, void* out) {
  SUBQ_CHECK(is_weight_format(format), "quantize_rows: {} is not a weight format", dtype_name(format));
  auto* o = static_cast<std::byte*>(out);
  const std::int64_t total = n * count;
  switch (format) {
    case DType::F32: std::memcpy(o, x, std::size_t(total) * 4); return;
    case DType::BF16:
      for (std::int64_t i = 0; i < total; ++i) {
        const bfloat16 h = to_bfloat16(x[i]);
        std::memcpy(o + 2 * i, &h, 2);
      }
      return;
    case DType::F16:
      for (std::int64_t i = 0; i < total; ++i) {
        SUBQ_CHECK(!std::isfinite(x[i]) || std::fabs(x[i]) <= 65504.0f,
                   "quantize to float16: element {} is {}, beyond float16's largest value 65504", i, x[i]);
        const float16 h = to_float16(x[i]);
        std::memcpy(o + 2 * i, &h, 2);
      }
      return;
    default: break;
  }
  SUBQ_CHECK(n % kBlock == 0, "quantize to {}: rows of {} elements are not whole blocks of {}", dtype_name(format), n,
             kBlock);
  check_finite(x, total, format);
  const std::size_t block_bytes = storage_bytes(format, kBlock);
  for (std::int64_t b = 0; b < total / kBlock; ++b)
    (format == DType::Q8_0 ? quantize_q8_0 : quantize_q4_0)(x + b * kBlock, o + b * block_bytes);
}

}  // namespace subq::detail
