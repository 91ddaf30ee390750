// CUDA kernels of core/elementwise.hpp; core/elementwise.cpp's CPU loops are their spec.
#include <cuda_runtime.h>

#include "core/cuda_launch.cuh"
#include "core/elementwise_cuda.hpp"
#include "core/math.hpp"

namespace subq::detail {

namespace {

__global__ void activate_kernel(float* x, std::int64_t n, Activation f) {
  SUBQ_GRID_STRIDE(i, n) x[i] = activation(f, x[i]);
}

__global__ void multiply_kernel(float* a, const float* b, std::int64_t n, std::int64_t b_count) {
  SUBQ_GRID_STRIDE(i, n) a[i] *= b[i % b_count];
}

__global__ void add_scaled_kernel(float* y, const float* a, const float* b, const float* c, std::int64_t n,
                                  std::int64_t c_count) {
  SUBQ_GRID_STRIDE(i, n) y[i] = a[i] + b[i] * c[i % c_count];
}

__global__ void lerp_kernel(float* y, const float* a, const float* b, const float* m, std::int64_t n,
                            std::int64_t features) {
  SUBQ_GRID_STRIDE(i, n) y[i] = b[i] * m[i % features] + a[i] * (1 - m[i % features]);
}

__global__ void swish_product_kernel(float* a, const float* b, std::int64_t n) {
  SUBQ_GRID_STRIDE(i, n) a[i] = silu(a[i]) * b[i];
}

}  // namespace

std::string launch_activate(float* x, std::int64_t n, Activation f) {
  return launch_elementwise(activate_kernel, n, x, n, f);
}

std::string launch_multiply(float* a, const float* b, std::int64_t n, std::int64_t b_count) {
  return launch_elementwise(multiply_kernel, n, a, b, n, b_count);
}

std::string launch_add_scaled(float* y, const float* a, const float* b, const float* c, std::int64_t n,
                              std::int64_t c_count) {
  return launch_elementwise(add_scaled_kernel, n, y, a, b, c, n, c_count);
}

std::string launch_lerp(float* y, const float* a, const float* b, const float* m, std::int64_t n, std::int64_t features) {
  return launch_elementwise(lerp_kernel, n, y, a, b, m, n, features);
}

std::string launch_swish_product(float* a, const float* b, std::int64_t n) {
  return launch_elementwise(swish_product_kernel, n, a, b, n);
}

}  // namespace subq::detail
