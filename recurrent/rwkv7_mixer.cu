// CUDA kernels of RWKV-7's time-mix pieces; the CPU loops in recurrent/rwkv7_mixer.cpp are their
// spec. One thread per element, or per group or row where a sum runs over it.
#include <cuda_runtime.h>

#include "core/cuda_launch.cuh"
#include "recurrent/rwkv7_mixer_cuda.hpp"

namespace subq::recurrent::detail {

namespace {

using subq::detail::launch_elementwise;

__global__ void normalize_groups_kernel(float* x, std::int64_t groups, std::int64_t d) {
  SUBQ_GRID_STRIDE(g, groups) {
    float* p = x + g * d;
    float sum = 0;
    for (std::int64_t i = 0; i < d; ++i) sum += p[i] * p[i];
    const float scale = 1.0f / fmaxf(sqrtf(sum), 1e-12f);
    for (std::int64_t i = 0; i < d; ++i) p[i] *= scale;
  }
}

__global__ void lerp_toward_kernel(float* v, const float* target, const float* weight, std::int64_t n) {
  SUBQ_GRID_STRIDE(i, n) v[i] += (target[i] - v[i]) * weight[i];
}

__global__ void key_update_kernel(float* k, const float* a, const float* k_a, std::int64_t n, std::int64_t hidden) {
  SUBQ_GRID_STRIDE(i, n) k[i] *= 1 + (a[i] - 1) * k_a[i % hidden];
}

__global__ void bonus_and_gate_kernel(float* o, const float* r, const float* k, const float* v, const float* g,
                                      const float* r_k, std::int64_t rows, std::int64_t heads, std::int64_t dk,
                                      std::int64_t dv) {
  SUBQ_GRID_STRIDE(row, rows) {
    float bonus = 0;
    for (std::int64_t j = 0; j < dk; ++j) bonus += r[row * dk + j] * k[row * dk + j] * r_k[(row % heads) * dk + j];
    for (std::int64_t j = 0; j < dv; ++j) {
      const std::int64_t e = row * dv + j;
      o[e] = (o[e] + bonus * v[e]) * g[e];
    }
  }
}

}  // namespace

std::string launch_normalize_groups(float* x, std::int64_t n, std::int64_t d) {
  return d == 0 ? std::string() : launch_elementwise(normalize_groups_kernel, n / d, x, n / d, d);
}

std::string launch_lerp_toward(float* v, const float* target, const float* weight, std::int64_t n) {
  return launch_elementwise(lerp_toward_kernel, n, v, target, weight, n);
}

std::string launch_key_update(float* k, const float* a, const float* k_a, std::int64_t n, std::int64_t hidden) {
  return launch_elementwise(key_update_kernel, n, k, a, k_a, n, hidden);
}

std::string launch_bonus_and_gate(float* o, const float* r, const float* k, const float* v, const float* g,
                                  const float* r_k, std::int64_t rows, std::int64_t heads, std::int64_t dk,
                                  std::int64_t dv) {
  return launch_elementwise(bonus_and_gate_kernel, rows, o, r, k, v, g, r_k, rows, heads, dk, dv);
}

}  // namespace subq::recurrent::detail
