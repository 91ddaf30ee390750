#pragma once
// Internal: one Mamba-2 mixer layer, as Hugging Face's Mamba2 defines it, on h (batch, length, hidden):
//   gate, xBC, dt = in_proj(h)               intermediate, intermediate + 2 * groups * N, heads
//   x, B, C      = silu(causal_conv1d(xBC))  x as (heads, head_dim), B and C as (groups, N)
//   dt           = clamp(softplus(dt + dt_bias), time_step_limit)
//   y            = ssd(x * dt, -exp(A_log) * dt, B, C) + D * x
//   out          = out_proj(rms_norm(y * silu(gate)))
// Runs in float32 on the CPU or CUDA (the weights' device).
#include <string>
#include <vector>

#include "core/checkpoint.hpp"
#include "core/tensor.hpp"
#include "ssm/mamba2_mixer_cuda.hpp"

namespace subq::ssm {

struct Mamba2MixerConfig {
  std::int64_t hidden, intermediate, state, conv_kernel, heads, head_dim, groups, chunk;
  double norm_eps, dt_min, dt_max;  // the gated norm's eps; the clamp of dt
  bool bias, conv_bias;             // in_proj/out_proj biases; conv1d bias
};

class Mamba2Mixer {
 public:
  /// Takes <prefix>in_proj.weight, conv1d.weight, dt_bias, A_log, D, norm.weight, out_proj.weight
  /// (and the biases the config asks for).
  static Mamba2Mixer load(Checkpoint& checkpoint, const std::string& prefix, const Mamba2MixerConfig& config);

  /// h (batch, length, hidden) -> (batch, length, hidden). With a state ({conv, scan} as
  /// MixerState numbers them; undefined: zeros), starts from it and leaves the state after the
  /// last token there.
  Tensor forward(const Tensor& h, std::vector<Tensor>* state) const;

 private:
  std::int64_t conv_channels() const { return config_.intermediate + 2 * config_.groups * config_.state; }
  // The element-wise steps' operands: dt_raw (batch, length, heads) with unit stride along heads,
  // x (batch, length, heads, head_dim) contiguous.
  detail::Mamba2StepParams step_params(const Tensor& dt_raw, const Tensor& x) const;

  Mamba2MixerConfig config_{};
  Tensor in_proj_, in_proj_bias_, conv_, conv_bias_, dt_bias_, A_, D_, norm_, out_proj_, out_proj_bias_;
};

}  // namespace subq::ssm
