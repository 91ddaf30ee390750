#pragma once
// Internal: the rows of a weight matrix in a compact format (bfloat16, float16, q8_0, q4_0; the
// block layouts are in dtype.hpp) read as float32 by the ops that use them: widened into a
// buffer, or dotted with float32 vectors while converting in registers, so that a decoding step
// reads each weight once at its stored size. A matrix is contiguous: row r of a (rows, n) matrix
// starts storage_bytes(format, r * n) bytes in, and a block format's n is a multiple of 32.
#include <cstdint>
#include <type_traits>

#include "core/dtype.hpp"

namespace subq::detail {

/// The formats below read and write: float32, bfloat16, float16, q8_0 and q4_0.
bool is_weight_format(DType format);

/// fn(std::integral_constant<DType, F>{}) for the weight format F that `format` is, else
/// otherwise(): the one list of formats that the kernels here and in weight_rows.cu are made for.
template <class Fn, class Otherwise>
decltype(auto) visit_weight_format(DType format, Fn&& fn, Otherwise&& otherwise) {
  switch (format) {
    case DType::F32: return fn(std::integral_constant<DType, DType::F32>{});
    case DType::BF16: return fn(std::integral_constant<DType, DType::BF16>{});
    case DType::F16: return fn(std::integral_constant<DType, DType::F16>{});
    case DType::Q8_0: return fn(std::integral_constant<DType, DType::Q8_0>{});
    case DType::Q4_0: return fn(std::integral_constant<DType, DType::Q4_0>{});
    default: return otherwise();
  }
}

/// Rows (count, n) of `format` at w -> out (count, n) float32.
void widen_rows(DType format, const void* w, std::int64_t n, std::int64_t count, float* out);

/// The most vectors one dot_rows call multiplies with each row it reads.
inline constexpr std::int64_t kMaxDotVectors = 4;

/// y[v * y_stride + r] = sum_i x[v * n + i] * w[r][i] for rows r < count of `format` at w and
/// float32 vectors v < vectors <= kMaxDotVectors: the weights are read once for all the vectors.
void dot_rows(DType format, const void* w, std::int64_t n, std::int64_t count, const float* x, std::int64_t vectors,
              float* y, std::int64_t y_stride);

/// Float32 rows (count, n) -> `format` at out. bfloat16 and float16 round to nearest even (a
/// finite value beyond float16's range is an error, not an infinity); q8_0 and q4_0 round as
/// llama.cpp's reference quantisers (quantize_row_q8_0_ref, quantize_row_q4_0_ref) do, and a
/// value that is not finite is an error (it would make its block's scale NaN).
void quantize_rows(DType format, const float* x, std::int64_t n, std::int64_t count, void* out);

}  // namespace subq::detail
