#pragma once
// Internal: RWKV-6's time mix as a layer, as fla's RWKV6Attention defines it, on x (batch, length,
// hidden) already layer-normed, with d = shift(x) - x:
//   m_{r,w,k,v,g} = x_proj2(tanh(x_proj1(x + d * mu))) + x_bias   (the data-dependent lerp)
//   r, k, v, g = projections of x + d * m_*;  w = -exp(lora(x + d * m_w))
//   out = o_proj(group_norm(wkv6(r, k, v, w, bonus)) * swish(g))
// Prefill runs WKV's chunked form, one token its recurrent form. CPU, float32.
#include <string>
#include <vector>

#include "core/checkpoint.hpp"
#include "core/tensor.hpp"

namespace subq::recurrent {

struct Rwkv6MixerConfig {
  std::int64_t hidden, heads, key_dim, value_dim, proj_rank, gate_rank;  // key_dim, value_dim: over all heads
  double eps;                                                            // of the output group norm
};

/// The time mix's slots in a layer's cache: the last input row (token shift) and the WKV state.
enum Rwkv6MixerState : std::size_t { kShiftState = 0, kWkvState = 1, kRwkv6MixerStates = 2 };

class Rwkv6TimeMix {
 public:
  /// Takes <prefix>x_proj.0.{mu, linear.weight}, x_proj.2.weight, x_bias, {r,k,v,g}_proj.linear.weight,
  /// w_proj.linear.lora.{0.weight, 2.weight, 2.bias}, bonus, g_norm.{weight, bias}, o_proj.weight.
  static Rwkv6TimeMix load(Checkpoint& checkpoint, const std::string& prefix, const Rwkv6MixerConfig& config);

  /// x (batch, length, hidden) -> (batch, length, hidden). With a state (its slots as
  /// Rwkv6MixerState numbers them; undefined: zeros), starts from it and leaves the state after
  /// the last token there.
  Tensor forward(const Tensor& x, std::vector<Tensor>* state) const;

 private:
  // The five data-dependent lerp coefficients m_{r,w,k,v,g}, each (batch, length, hidden).
  std::vector<Tensor> lerp_coefficients(const Tensor& x, const Tensor& d) const;

  Rwkv6MixerConfig config_{};
  Tensor mu_, lerp_down_, lerp_up_, x_bias_;  // the data-dependent lerp: x_proj.0, x_proj.2, x_bias
  Tensor r_, w_down_, w_up_, w_bias_, k_, v_, g_, bonus_, g_norm_weight_, g_norm_bias_, o_;
};

}  // namespace subq::recurrent
