// The Hyena operator's element-wise CUDA kernels, the loops in conv/hyena.cpp being their spec:
// one thread per element.
#include <cuda_runtime.h>

#include <cmath>

#include "conv/hyena_cuda.hpp"
#include "core/cuda_launch.cuh"

namespace subq::conv::detail {

namespace {

using subq::detail::elementwise_blocks;
using subq::detail::kElementwiseThreads;
using subq::detail::launch_status;

__global__ void filter_sine_kernel(double* h, const double* freq, std::int64_t rows, std::int64_t n) {
  SUBQ_GRID_STRIDE(i, rows * n) h[i] = sin(freq[i % n] * h[i]);
}

__global__ void filter_modulation_kernel(double* h, const double* t, const double* deltas, std::int64_t L,
                                         std::int64_t n) {
  SUBQ_GRID_STRIDE(i, L * n) h[i] *= exp(-t[i / n] * fabs(deltas[i % n]));
}

template <class T>
__global__ void gate_kernel(T* v, const T* x, std::int64_t count) {
  SUBQ_GRID_STRIDE(i, count) v[i] *= x[i];
}

template <class T>
__global__ void conv_skip_kernel(T* v, const T* y, const double* bias, std::int64_t count, std::int64_t D,
                                 std::int64_t L) {
  SUBQ_GRID_STRIDE(i, count) v[i] = y[i] + T(bias[i / L % D]) * v[i];
}

template <class T>
std::string gate(T* v, const T* x, std::int64_t count) {
  if (count == 0) return {};
  gate_kernel<T><<<elementwise_blocks(count), kElementwiseThreads>>>(v, x, count);
  return launch_status();
}

template <class T>
std::string conv_skip(T* v, const T* y, const double* bias, std::int64_t count, std::int64_t D, std::int64_t L) {
  if (count == 0) return {};
  conv_skip_kernel<T><<<elementwise_blocks(count), kElementwiseThreads>>>(v, y, bias, count, D, L);
  return launch_status();
}

}  // namespace

std::string launch_filter_sine(double* h, const double* freq, std::int64_t rows, std::int64_t n) {
  if (rows * n == 0) return {};
  filter_sine_kernel<<<elementwise_blocks(rows * n), kElementwiseThreads>>>(h, freq, rows, n);
  return launch_status();
}

std::string launch_filter_modulation(double* h, const double* t, const double* deltas, std::int64_t L, std::int64_t n) {
  if (L * n == 0) return {};
  filter_modulation_kernel<<<elementwise_blocks(L * n), kElementwiseThreads>>>(h, t, deltas, L, n);
  return launch_status();
}

std::string launch_gate(float* v, const float* x, std::int64_t count) { return gate(v, x, count); }
std::string launch_gate(double* v, const double* x, std::int64_t count) { return gate(v, x, count); }

std::string launch_conv_skip(float* v, const float* y, const double* bias, std::int64_t count, std::int64_t D,
                             std::int64_t L) {
  return conv_skip(v, y, bias, count, D, L);
}
std::string launch_conv_skip(double* v, const double* y, const double* bias, std::int64_t count, std::int64_t D,
                             std::int64_t L) {
  return conv_skip(v, y, bias, count, D, L);
}

}  // namespace subq::conv::detail
