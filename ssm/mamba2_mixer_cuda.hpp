#pragma once
// Internal: the CUDA launchers of the Mamba-2 mixer's element-wise steps around SSD
// (ssm/mamba2_mixer.cu), float32, in plain types; the CPU loops in ssm/mamba2_mixer.cpp are
// their spec.
#include <cstdint>
#include <string>

namespace subq::ssm::detail {

struct Mamba2StepParams {
  const float* dt_raw;  // (rows, heads), rows dt_row_stride apart
  std::int64_t dt_row_stride;
  const float* x;  // (rows, heads, P) contiguous
  const float* A;  // (heads): -exp(A_log)
  const float* dt_bias;
  const float* D;
  float dt_min, dt_max;
  std::int64_t rows, heads, P;
};

/// dt = clamp(softplus(dt_raw + dt_bias), dt_min, dt_max); x_dt = x * dt; a_dt = A * dt.
std::string launch_mamba2_ssd_inputs(const Mamba2StepParams& params, float* x_dt, float* a_dt);
/// y += D * x, y (rows, heads, P) contiguous.
std::string launch_mamba2_skip(const Mamba2StepParams& params, float* y);

}  // namespace subq::ssm::detail
