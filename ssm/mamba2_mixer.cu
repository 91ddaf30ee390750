// CUDA element-wise steps of the Mamba-2 mixer around SSD: the time steps with the inputs they
// scale, and the D skip. One thread per element of x.
#include <cuda_runtime.h>

#include "core/cuda_launch.cuh"
#include "core/math.hpp"
#include "ssm/mamba2_mixer_cuda.hpp"

namespace subq::ssm::detail {

namespace {

using subq::detail::launch_elementwise;

__device__ __forceinline__ float time_step(const Mamba2StepParams& p, std::int64_t row, std::int64_t h) {
  const float dt = softplus(p.dt_raw[row * p.dt_row_stride + h] + p.dt_bias[h]);
  return fminf(fmaxf(dt, p.dt_min), p.dt_max);
}

__global__ void ssd_inputs_kernel(Mamba2StepParams p, float* x_dt, float* a_dt) {
  SUBQ_GRID_STRIDE(i, p.rows * p.heads * p.P) {
    const std::int64_t rh = i / p.P, row = rh / p.heads, h = rh % p.heads;
    const float dt = time_step(p, row, h);
    x_dt[i] = p.x[i] * dt;
    if (i % p.P == 0) a_dt[rh] = p.A[h] * dt;
  }
}

__global__ void skip_kernel(Mamba2StepParams p, float* y) {
  SUBQ_GRID_STRIDE(i, p.rows * p.heads * p.P) y[i] += p.D[i / p.P % p.heads] * p.x[i];
}

}  // namespace

std::string launch_mamba2_ssd_inputs(const Mamba2StepParams& p, float* x_dt, float* a_dt) {
  const std::int64_t n = p.rows * p.heads * p.P;
  return launch_elementwise(ssd_inputs_kernel, n, p, x_dt, a_dt);
}

std::string launch_mamba2_skip(const Mamba2StepParams& p, float* y) {
  const std::int64_t n = p.rows * p.heads * p.P;
  return launch_elementwise(skip_kernel, n, p, y);
}

}  // namespace subq::ssm::detail
