#pragma once
// Internal: the CUDA form of block_diagonal_linear (core/dense.hpp) as a row pass
// (core/row_pass.hpp), one output element per call; the CPU multiplies each block with Eigen.
#include <cstdint>

#include "core/complex.hpp"

namespace subq::detail {

/// y[row, b out + j] = bias[b out + j] + sum_i x[row, b in + i] w[b, i, j], rows of blocks x in
/// inputs and blocks x out outputs; bias may be null.
template <class T>
struct BlockDiagonalProduct {
  const T *x, *w, *bias;
  T* y;
  std::int64_t blocks, in, out;
  SUBQ_HOST_DEVICE void operator()(std::int64_t element) const {
    const std::int64_t width = blocks * out, row = element / width, column = element % width;
    const std::int64_t block = column / out, j = column % out;
    const T* xr = x + row * blocks * in + block * in;
    const T* wc = w + block * in * out + j;
    T sum = bias ? bias[column] : T(0);
    for (std::int64_t i = 0; i < in; ++i) sum += xr[i] * wc[i * out];
    y[element] = sum;
  }
};

}  // namespace subq::detail
