#pragma once
// Internal: the Eigen types the CPU kernels view tensors through. Tensors are row-major, so a
// matrix is RowMatrix; the time steps of one (batch, head) of a (batch, length, heads, d) input are
// StridedRows, rows of d values lying heads * d elements apart.
#include <Eigen/Core>

namespace subq {

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// A read-only view of rows that lie `Eigen::OuterStride` elements apart.
template <class T>
using StridedRows = Eigen::Map<const RowMatrix<T>, 0, Eigen::OuterStride<>>;

}  // namespace subq
