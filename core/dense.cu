// CUDA kernels of the dense layers (the CPU path in core/dense.cpp is their spec): RMSNorm with
// an optional SiLU gate, one block per row; group (and layer) normalisation, one block per group;
// rotary positions; the embedding gather; element-wise adds and scaling.
#include <cuda_runtime.h>

#include <cub/block/block_reduce.cuh>

#include "core/block_diagonal_pass.hpp"
#include "core/cuda_launch.cuh"
#include "core/dense_kernels.hpp"
#include "core/row_pass.cuh"
#include "core/math.hpp"

namespace subq::detail {

namespace {

constexpr int kNormThreads = 256;

// Pass 1 writes the (gated) input to y and sums its squares; pass 2 scales y in place. Each
// thread rereads only what it wrote, so the passes need no barrier beyond the reduction's.
__global__ void __launch_bounds__(kNormThreads)
    rms_norm_kernel(const float* x, const float* gate, const float* weight, float* y, std::int64_t dim, float eps) {
  using Reduce = cub::BlockReduce<float, kNormThreads>;
  __shared__ typename Reduce::TempStorage reduce;
  __shared__ float scale;
  const std::int64_t row = blockIdx.x;
  const float* xr = x + row * dim;
  float* yr = y + row * dim;
  float sum = 0;
  for (std::int64_t i = threadIdx.x; i < dim; i += kNormThreads) {
    const float v = gate ? xr[i] * silu(gate[row * dim + i]) : xr[i];
    yr[i] = v;
    sum += v * v;
  }
  const float total = Reduce(reduce).Sum(sum);
  if (threadIdx.x == 0) scale = 1.0f / sqrtf(total / float(dim) + eps);
  __syncthreads();
  for (std::int64_t i = threadIdx.x; i < dim; i += kNormThreads) yr[i] = weight[i] * (yr[i] * scale);
}

// One block per group of `size` consecutive features: the mean, then the mean squared deviation
// from it (two passes, as the CPU does), then the normalised values, scaled and shifted.
__global__ void __launch_bounds__(kNormThreads)
    group_norm_kernel(const float* x, const float* weight, const float* bias, float* y, std::int64_t size,
                      std::int64_t dim, float eps) {
  using Reduce = cub::BlockReduce<float, kNormThreads>;
  __shared__ typename Reduce::TempStorage reduce;
  __shared__ float mean, scale;
  const std::int64_t group = blockIdx.x, first = group * size % dim;  // the group's place in its row
  const float* xg = x + group * size;
  float sum = 0;
  for (std::int64_t i = threadIdx.x; i < size; i += kNormThreads) sum += xg[i];
  const float total = Reduce(reduce).Sum(sum);
  if (threadIdx.x == 0) mean = total / float(size);
  __syncthreads();
  float squares = 0;
  for (std::int64_t i = threadIdx.x; i < size; i += kNormThreads) squares += (xg[i] - mean) * (xg[i] - mean);
  const float deviation = Reduce(reduce).Sum(squares);
  if (threadIdx.x == 0) scale = 1.0f / sqrtf(deviation / float(size) + eps);
  __syncthreads();
  for (std::int64_t i = threadIdx.x; i < size; i += kNormThreads)
    y[group * size + i] = (xg[i] - mean) * scale * weight[first + i] + (bias ? bias[first + i] : 0.0f);
}

// One thread per pair (x[i], x[i + d/2]) of a row of a (batch, length, heads, d) input, turned by
// (offset + t) * base^(-2i/d): the angle in float32, the turn in float64, as the CPU does.
__global__ void rotary_kernel(const float* x, float* y, std::int64_t length, std::int64_t heads, std::int64_t half,
                              std::int64_t width, std::int64_t offset, double base, std::int64_t pairs) {
  SUBQ_GRID_STRIDE(e, pairs) {
    const std::int64_t row = e / half, i = e % half, t = row / heads % length;
    const float inv_freq = float(1.0 / pow(base, double(2 * i) / double(2 * half)));
    const float angle = float(offset + t) * inv_freq;
    const double c = cos(double(angle)), s = sin(double(angle));
    const std::int64_t first = row * width + i;
    const double x1 = x[first], x2 = x[first + half];
    y[first] = float(x1 * c - x2 * s);
    y[first + half] = float(x1 * s + x2 * c);
  }
}

__global__ void embedding_kernel(const float* table, const std::int64_t* ids, float* y, std::int64_t count,
                                 std::int64_t dim) {
  SUBQ_GRID_STRIDE(i, count * dim) y[i] = table[ids[i / dim] * dim + i % dim];
}

__global__ void add_kernel(float* h, const float* update, std::int64_t n) {
  SUBQ_GRID_STRIDE(i, n) h[i] += update[i];
}

template <class T>
__global__ void scale_kernel(T* y, std::int64_t n, double factor) {
  SUBQ_GRID_STRIDE(i, n) y[i] = T(double(y[i]) * factor);
}

template <class T>
__global__ void add_bias_kernel(T* y, const T* bias, std::int64_t rows, std::int64_t cols) {
  SUBQ_GRID_STRIDE(i, rows * cols) y[i] += bias[i % cols];
}

}  // namespace

std::string launch_rms_norm(const float* x, const float* gate, const float* weight, float* y, std::int64_t rows,
                            std::int64_t dim, float eps) {
  if (rows == 0) return {};
  if (rows > 0x7fffffff) return "too many rows for one grid";
  rms_norm_kernel<<<unsigned(rows), kNormThreads>>>(x, gate, weight, y, dim, eps);
  return launch_status();
}

std::string launch_group_norm(const float* x, const float* weight, const float* bias, float* y, std::int64_t groups,
                              std::int64_t size, std::int64_t dim, float eps) {
  if (groups == 0) return {};
  if (groups > 0x7fffffff) return "too many groups for one grid";
  group_norm_kernel<<<unsigned(groups), kNormThreads>>>(x, weight, bias, y, size, dim, eps);
  return launch_status();
}

std::string launch_rotary(const float* x, float* y, std::int64_t rows, std::int64_t length, std::int64_t heads,
                          std::int64_t half, std::int64_t width, std::int64_t offset, double base) {
  const std::int64_t pairs = rows * half;
  return launch_elementwise(rotary_kernel, pairs, x, y, length, heads, half, width, offset, base, pairs);
}

std::string launch_embedding(const float* table, const std::int64_t* ids, float* y, std::int64_t count,
                             std::int64_t dim) {
  return launch_elementwise(embedding_kernel, count * dim, table, ids, y, count, dim);
}

std::string launch_add(float* h, const float* update, std::int64_t n) {
  return launch_elementwise(add_kernel, n, h, update, n);
}

std::string launch_scale(float* y, std::int64_t n, double factor) {
  return launch_elementwise(scale_kernel<float>, n, y, n, factor);
}
std::string launch_scale(double* y, std::int64_t n, double factor) {
  return launch_elementwise(scale_kernel<double>, n, y, n, factor);
}

std::string launch_add_bias(float* y, const float* bias, std::int64_t rows, std::int64_t cols) {
  return launch_elementwise(add_bias_kernel<float>, rows * cols, y, bias, rows, cols);
}
std::string launch_add_bias(double* y, const double* bias, std::int64_t rows, std::int64_t cols) {
  return launch_elementwise(add_bias_kernel<double>, rows * cols, y, bias, rows, cols);
}

}  // namespace subq::detail

// block_diagonal_linear's kernel (core/block_diagonal_pass.hpp); float64 too, which the CPU
// dispatch instantiates.
namespace subq::detail {
template std::string launch_row_pass(const BlockDiagonalProduct<float>&, std::int64_t);
template std::string launch_row_pass(const BlockDiagonalProduct<double>&, std::int64_t);
}  // namespace subq::detail
