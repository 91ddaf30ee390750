#pragma once
// Internal: the CUDA launcher of the selective scan, in plain types so that the .cu file needs
// nothing but the CUDA toolkit. The .cpp side validates, checks strides and allocates.
#include <cstdint>
#include <string>

#include "core/dtype.hpp"

namespace subq::ssm::detail {

/// B or C seen as (batch, group, N, length); time stride 1 (varying) or 0 (time-invariant).
struct GroupedOperand {
  const void* data;
  std::int64_t stride_batch, stride_group, stride_n, stride_t;
  std::int64_t channels_per_group;
};

struct SelectiveScanParams {
  DType input;   // F32, F64 or BF16: u, delta, z, out, and B/C when real
  bool complex;  // A, B, C (and the state) complex64 for F32 input, complex128 for F64
  std::int64_t batch, dim, N, L;
  const void* u;  // (batch, dim, L), unit stride along L, like delta and z
  std::int64_t u_stride_batch, u_stride_dim;
  const void* delta;
  std::int64_t delta_stride_batch, delta_stride_dim;
  const void* z;  // or null
  std::int64_t z_stride_batch, z_stride_dim;
  const void* A;  // (dim, N): float32 (float64 for F64 input), complex when `complex`
  std::int64_t A_stride_dim, A_stride_n;
  GroupedOperand B, C;
  const void* D;           // (dim) weight dtype, or null
  std::int64_t D_stride;
  const void* delta_bias;  // (dim) weight dtype, or null
  std::int64_t delta_bias_stride;
  bool delta_softplus;
  const void* initial_state;  // (batch, dim, N) state dtype, or null
  std::int64_t h0_stride_batch, h0_stride_dim, h0_stride_n;
  void* out;         // (batch, dim, L) contiguous, input dtype
  void* final_state;  // (batch, dim, N) contiguous, state dtype
};

/// Launches on the default stream; returns an error message, empty on success.
std::string launch_selective_scan_cuda(const SelectiveScanParams& params);

}  // namespace subq::ssm::detail
