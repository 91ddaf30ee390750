// CUDA kernels of the recurrent models' element-wise layer pieces; recurrent/layer_ops.cpp's CPU
// loops are their spec.
#include <cuda_runtime.h>

#include "core/cuda_launch.cuh"
#include "recurrent/layer_ops_cuda.hpp"

namespace subq::recurrent::detail {

namespace {

using subq::detail::launch_elementwise;

__global__ void activate_kernel(float* x, std::int64_t n, Activation f) {
  SUBQ_GRID_STRIDE(i, n) x[i] = activation(f, x[i]);
}

__global__ void token_shift_kernel(float* s, const float* x, const float* carried, std::int64_t length,
                                   std::int64_t features, std::int64_t n, bool delta) {
  SUBQ_GRID_STRIDE(i, n) {
    const std::int64_t t = i / features % length, b = i / (features * length), f = i % features;
    const float before = t > 0 ? x[i - features] : carried ? carried[b * features + f] : 0.0f;
    s[i] = delta ? before - x[i] : before;
  }
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

std::string launch_token_shift(float* s, const float* x, const float* carried, std::int64_t batch, std::int64_t length,
                               std::int64_t features, bool delta) {
  const std::int64_t n = batch * length * features;
  return launch_elementwise(token_shift_kernel, n, s, x, carried, length, features, n, delta);
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

}  // namespace subq::recurrent::detail
