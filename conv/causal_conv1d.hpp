#pragma once
// The short causal depthwise convolution in front of Mamba's and Mamba-2's scans (torch's
// Conv1d with groups = channels and padding = width - 1, cut to the input length):
//   out[b, c, t] = act(bias[c] + sum_k weight[c, k] * x[b, c, t - (width - 1) + k])
// with x before t = 0 taken from an initial state (the previous width - 1 inputs), zeros by default.
#include "../core/activation.hpp"
#include "../core/packing.hpp"
#include "../core/tensor.hpp"

namespace subq::conv {

struct CausalConv1dResult {
  Tensor out;          // (batch, channels, length), contiguous
  Tensor final_state;  // (batch, channels, width - 1): the last width - 1 inputs, for decoding
};

/// x: (batch, channels, length), any strides (e.g. a transposed (batch, length, channels)
/// projection); weight: (channels, width); bias: (channels) or undefined;
/// initial_state: (batch, channels, width - 1) or undefined for zeros. float32 or float64 on the
/// CPU, float32 on CUDA (every operand on x's device).
CausalConv1dResult causal_conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias = {},
                                 Activation activation = Activation::Identity, const Tensor& initial_state = {});

/// Packed sequences (core/packing.hpp), each from zeros, no tap reaching into the sequence
/// before: x (1, channels, total), any strides -> out (1, total, channels), contiguous (time-major,
/// as the layers after it take it). The convolution runs once over the packed steps; only the
/// first width - 1 steps of each sequence, whose taps would reach across, are computed again
/// from that sequence alone.
Tensor causal_conv1d_packed(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation activation,
                            const Packing& packing);

/// One decoding step: state (batch, channels, width - 1), contiguous, is shifted by x
/// (batch, channels) in place; returns out (batch, channels).
Tensor causal_conv1d_update(const Tensor& state, const Tensor& x, const Tensor& weight, const Tensor& bias = {},
                            Activation activation = Activation::Identity);

}  // namespace subq::conv
