#pragma once
// Internal: the CUDA paths of core/dense.hpp's layers (float32 and the compact weight formats; linear also float64),
// reached from their dispatch when the input is on a GPU. Shapes are checked by the dispatching function.
#include "core/tensor.hpp"

namespace subq::detail {

Tensor linear_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias);
Tensor rms_norm_cuda(const Tensor& x, const Tensor& weight, double eps, const Tensor& gate);
Tensor group_norm_cuda(const Tensor& x, std::int64_t groups, const Tensor& weight, const Tensor& bias, double eps);
Tensor rotary_cuda(const Tensor& x, std::int64_t offset, double base, std::int64_t rotary_dims);
Tensor scale_cuda(const Tensor& x, double factor);
void add_into_cuda(const Tensor& h, const Tensor& update);
/// table on the GPU; ids contiguous on the CPU, already checked against the vocabulary.
Tensor embedding_cuda(const Tensor& table, const Tensor& ids);
/// x (..., in) float32 times a compact weight (out, in) on the GPU (bfloat16, float16, q8_0 or
/// q4_0): up to kMaxDotVectors rows of x (a decoding step) in one dot-product launch that
/// reads each weight once at its stored size, more through the widened matrix and cuBLAS.
Tensor linear_compact_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias);
/// The rows ids (as for embedding_cuda) of a compact table on the GPU, widened to float32.
Tensor embedding_compact_cuda(const Tensor& table, const Tensor& ids);

}  // namespace subq::detail
