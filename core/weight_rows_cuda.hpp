#pragma once
// Internal: core/weight_rows.hpp's widening and dot products on a GPU (core/weight_rows.cu), for
// a decoding step's GEMV and an embedding lookup straight from the stored rows. Plain pointers on
// the current device, the default stream; each returns an error message, empty on success. A
// matrix is contiguous rows of row_bytes = storage_bytes(format, n) bytes, as on the CPU.
#include <cstdint>
#include <string>

#include "core/dtype.hpp"
#include "core/weight_rows.hpp"

namespace subq::detail {

/// out (count, n) float32 = rows ids[k] (k < count) of the matrix at w, widened as widen_rows
/// does (the same bits); ids nullptr reads rows 0 .. count - 1. ids are already checked.
std::string launch_widen_rows(DType format, const void* w, std::int64_t n, std::size_t row_bytes,
                              const std::int64_t* ids, std::int64_t count, float* out);

/// y[v * rows + r] = sum_i x[v * n + i] * w[r][i] for rows r < rows and vectors v < vectors
/// (1 to kMaxDotVectors, as on the CPU), each weight read once and converted in registers.
std::string launch_dot_rows(DType format, const void* w, std::int64_t n, std::size_t row_bytes, std::int64_t rows,
                            const float* x, int vectors, float* y);

}  // namespace subq::detail
