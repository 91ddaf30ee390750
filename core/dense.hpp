#pragma once
// Dense building blocks that every model uses, on the CPU (float32 or float64) and on the input's
// GPU (float32; the linear layer and scale also float64): the linear layer, RMS, layer and group
// normalisation, rotary positions, the embedding lookup and a few element-wise pieces, with
// PyTorch's definitions.
#include "tensor.hpp"
#include "thread_pool.hpp"

namespace subq {

/// y (..., out) = x (..., in) W^T + bias, with W (out, in) as torch.nn.Linear stores it and bias
/// (out) or undefined. Rows are split over the pool's threads. W may also be a compact weight
/// (bfloat16, float16, q8_0, q4_0) with x float32: it is read in its stored form and the products
/// accumulate in float32 (on a GPU, up to 4 rows of x by dot products over the stored rows, more
/// through the widened matrix and cuBLAS).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, ThreadPool* pool = nullptr);

/// A block-diagonal linear layer: x (..., blocks x in) -> y (..., blocks x out), each block of
/// inputs through its own matrix, y[b out + j] = sum_i x[b in + i] weight[b, i, j] + bias[b out + j],
/// with weight (blocks, in, out) as recurrentgemma's BlockDiagonalLinear stores it (xLSTM's
/// headwise (blocks, out, in) weights are its transpose) and bias (blocks x out) or undefined.
/// float32 or float64 on the CPU, float32 on CUDA, every operand on x's device.
Tensor block_diagonal_linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

/// x / sqrt(mean(x^2) + eps) * weight over the last dimension; weight (dim). With a gate (the
/// shape of x), x is first multiplied by silu(gate) (Mamba-2's gated RMSNorm).
Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps, const Tensor& gate = {});

/// (x - mean) / sqrt(var + eps) * weight + bias over the last dimension (torch's LayerNorm);
/// bias may be undefined (none).
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps);

/// torch's GroupNorm over the last dimension split into `groups` equal groups: each group
/// normalised to zero mean and unit variance, then * weight + bias (both (dim)).
Tensor group_norm(const Tensor& x, std::int64_t groups, const Tensor& weight, const Tensor& bias, double eps);

/// Rotary position embedding, the non-interleaved (GPT-NeoX) form: x (batch, length, heads, d);
/// position p = offset + t turns the pair (x[i], x[i + r/2]) by p * base^(-2i/r) for i < r/2, over
/// the first r = rotary_dims of each head (0: all d; partial rotary, as RecurrentGemma's, rotates
/// a leading share and passes the rest through). r even, at most d.
Tensor rotary(const Tensor& x, std::int64_t offset, double base = 10000.0, std::int64_t rotary_dims = 0);

/// x * factor as a new contiguous tensor of x's dtype (float32 or float64), each element
/// computed in float64 and rounded once. A compact weight (bfloat16, float16, q8_0, q4_0) is
/// widened, scaled and stored back in its format: exact for a power of two.
Tensor scale(const Tensor& x, double factor);

/// h += update element-wise, in place (the residual stream); same shape and dtype, h contiguous.
void add_into(const Tensor& h, const Tensor& update);

/// A SwiGLU MLP's weights, (F, H), (F, H), (H, F) as torch.nn.Linear stores them.
struct SwiGlu {
  Tensor gate, up, down;
};

/// down(silu(gate x) * up x); x (..., H) float32, on the CPU or the weights' GPU.
Tensor swiglu(const Tensor& x, const SwiGlu& mlp);

/// Rows of table (vocab, dim) at the int64 ids (any shape) -> (..., dim) of the table's dtype, or
/// float32 for a compact table (bfloat16, float16, q8_0, q4_0); an id outside
/// [0, vocab) is an error naming it.
Tensor embedding(const Tensor& table, const Tensor& ids);

}  // namespace subq
