#pragma once
// Internal: the CUDA launcher of the causal depthwise convolution (conv/causal_conv1d.cu), in
// plain types; conv/causal_conv1d.cpp checks and allocates.
#include <cstdint>
#include <string>

#include "core/activation.hpp"

namespace subq::conv::detail {

struct CausalConv1dParams {
  const float* x;  // (batch, channels, length), any strides
  std::int64_t x_stride_batch, x_stride_channel, x_stride_t;
  const float* weight;  // (channels, width), any strides
  std::int64_t w_stride_channel, w_stride_k;
  const float* bias;           // (channels) contiguous, or null
  const float* initial_state;  // (batch, channels, width - 1) contiguous, or null for zeros
  float* out;                  // (batch, channels, length) contiguous
  float* final_state;          // (batch, channels, width - 1) contiguous
  std::int64_t batch, channels, length, width;
  Activation activation;
};

/// Launches on the default stream; returns an error message, empty on success.
std::string launch_causal_conv1d(const CausalConv1dParams& params);

}  // namespace subq::conv::detail
