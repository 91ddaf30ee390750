#pragma once
// Internal: the CUDA launcher of the linear recurrence, in plain types so that the .cu file
// needs nothing but the CUDA toolkit. The .cpp side validates and allocates.
#include <cstdint>
#include <string>

#include "core/dtype.hpp"

namespace subq::scan::detail {

struct LinearRecurrenceParams {
  const void* a;  // (batch, channels, length), unit stride along length, input dtype
  const void* b;
  const void* h0;     // (batch, channels), state dtype
  void* h;            // (batch, channels, length) contiguous, state dtype
  void* final_state;  // (batch, channels) contiguous, state dtype
  std::int64_t batch, channels, length;
  std::int64_t a_stride_batch, a_stride_channel, b_stride_batch, b_stride_channel;
  std::int64_t h0_stride_batch, h0_stride_channel;
  bool reverse;
  DType input;  // F32, F64, BF16, F16, C64 or C128; the state is F32, F64, F32, F32, C64, C128
};

struct LinearRecurrencePlan {
  std::int64_t segments;        // pieces each row is cut into, one block each
  std::int64_t segment_length;  // a multiple of the kernel's tile
  std::size_t workspace_bytes;  // segment elements and carries, when segments > 1
};

/// chunk_length: the caller's wish (0: choose); rounded up to whole tiles.
LinearRecurrencePlan plan_linear_recurrence_cuda(const LinearRecurrenceParams& params, std::int64_t chunk_length);
/// Launches on the default stream; returns an error message, empty on success.
std::string launch_linear_recurrence_cuda(const LinearRecurrenceParams& params, const LinearRecurrencePlan& plan,
                                          void* workspace);

}  // namespace subq::scan::detail
