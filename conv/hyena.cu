// The Hyena operator's element-wise CUDA kernels, the loops in conv/hyena.cpp being their spec:
// one thread per element.
#include <cuda_runtime.h>

#include <cmath>

#include "conv/hyena_cuda.hpp"
#include "core/cuda_launch.cuh"

namespace subq::conv::detail {

namespace {

using subq::detail::launch_elementwise;

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
  return launch_elementwise(gate_kernel<T>, count, v, x, count);
}

template <class T>
std::string conv_skip(T* v, const T* y, const double* bias, std::int64_t count, std::int64_t D, std::int64_t L) {
  return launch_elementwise(conv_skip_kernel<T>, count, v, y, bias, count, D, L);
}

}  // namespace

std::string launch_filter_sine(double* h, const double* freq, std::int64_t rows, std::int64_t n) {
  return launch_elementwise(filter_sine_kernel, rows * n, h, freq, rows, n);
}

std::string launch_filter_modulation(double* h, const double* t, const double* deltas, std::int64_t L, std::int64_t n) {
  return launch_elementwise(filter_modulation_kernel, L * n, h, t, deltas, L, n);
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
