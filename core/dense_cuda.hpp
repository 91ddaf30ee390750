#pragma once
// Internal: the CUDA paths of core/dense.hpp's layers (float32; linear also float64), reached from their dispatch
// when the input is on a GPU. Shapes are checked by the dispatching function.
#include "core/tensor.hpp"

namespace subq::detail {

Tensor linear_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias);
Tensor rms_norm_cuda(const Tensor& x, const Tensor& weight, double eps, const Tensor& gate);
Tensor group_norm_cuda(const Tensor& x, std::int64_t groups, const Tensor& weight, const Tensor& bias, double eps);
Tensor rotary_cuda(const Tensor& x, std::int64_t offset, double base);
Tensor scale_cuda(const Tensor& x, double factor);
void add_into_cuda(const Tensor& h, const Tensor& update);
/// table on the GPU; ids contiguous on the CPU, already checked against the vocabulary.
Tensor embedding_cuda(const Tensor& table, const Tensor& ids);

}  // namespace subq::detail
