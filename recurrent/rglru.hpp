#pragma once
// Griffin's Real-Gated Linear Recurrent Unit (De et al. 2024), as recurrentgemma's torch RGLRU
// layer defines it. For x (batch, length, width), per channel:
//   gate_x = sigmoid(x W_x + b_x),  gate_a = sigmoid(x W_a + b_a)   (block-diagonal: one
//            (width/heads)^2 block per head, x's channels of that head in, the same out)
//   log a = -8 gate_a softplus(a_param),  a = exp(log a)
//   h[t] = a[t] h[t-1] + sqrt(1 - a[t]^2) gate_x[t] x[t]
// where a segment starts (segment_pos == 0) the state is reset instead: h[t] = gate_x[t] x[t]
// (no sqrt(1 - a^2) either). y[t] = h[t]. The recurrence is the scan core's linear recurrence.
#include <string>

#include "../core/checkpoint.hpp"
#include "../core/tensor.hpp"

namespace subq::recurrent {

/// Where a checkpoint keeps the layer's weights: recurrentgemma's names (a_param, input_gate.{w,b},
/// a_gate.{w,b}) or transformers' RecurrentGemma (recurrent_param, input_gate_{weight,bias},
/// recurrent_gate_{weight,bias}), the same tensors.
enum class RgLruNames { Recurrentgemma, Transformers };

/// The layer's weights, recurrentgemma's names in brackets.
struct RgLru {
  Tensor a_param;       // (width) [a_param]
  Tensor input_gate_w;  // (heads, width / heads, width / heads) [input_gate.w], x's channels in, out
  Tensor input_gate_b;  // (heads, width / heads) [input_gate.b]
  Tensor a_gate_w;      // (heads, width / heads, width / heads) [a_gate.w]
  Tensor a_gate_b;      // (heads, width / heads) [a_gate.b]

  /// Takes the layer's tensors under prefix, named as `names` says, for `width` channels in `heads`
  /// blocks (float32, or float64 for the float64 tests).
  static RgLru load(Checkpoint& weights, const std::string& prefix, std::int64_t width, std::int64_t heads,
                    RgLruNames names = RgLruNames::Recurrentgemma, DType dtype = DType::F32);
};

struct RgLruResult {
  Tensor y;       // (batch, length, width)
  Tensor last_h;  // (batch, width)
};

/// x: (batch, length, width) of the weights' dtype and on their device (float32 or float64 on the
/// CPU, float32 on CUDA); segment_pos: (batch, length) int64, or undefined for a continuation (no
/// resets); h0: (batch, width) or undefined for zeros.
RgLruResult rglru(const RgLru& layer, const Tensor& x, const Tensor& segment_pos = {}, const Tensor& h0 = {});

/// The same, one step at a time in float64 on the CPU (rounded to x's dtype, returned on the CPU):
/// the specification.
RgLruResult rglru_recurrent(const RgLru& layer, const Tensor& x, const Tensor& segment_pos = {}, const Tensor& h0 = {});

}  // namespace subq::recurrent
