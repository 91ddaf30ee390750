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
#include "core/mixer.hpp"
#include "core/tensor.hpp"
#include "ssm/mamba2_mixer_cuda.hpp"

namespace subq::ssm {

struct Mamba2MixerConfig {
  std::int64_t hidden, intermediate, state, conv_kernel, heads, head_dim, groups, chunk;
  double norm_eps, dt_min, dt_max;  // the gated norm's eps; the clamp of dt
  bool bias, conv_bias;             // in_proj/out_proj biases; conv1d bias
};

class Mamba2Mixer final : public Mixer {
 public:
  /// Takes <prefix>in_proj.weight, conv1d.weight, dt_bias, A_log, D, norm.weight, out_proj.weight
  /// (and the biases the config asks for).
  static Mamba2Mixer load(Checkpoint& checkpoint, const std::string& prefix, const Mamba2MixerConfig& config);

  /// h (batch, length, hidden) -> (batch, length, hidden); the state's slots are MambaStateSlot's
  /// (ssm/mamba_mixer.hpp).
  Tensor forward(const Tensor& h, MixerState* state, MixerContext& context) const override;

 private:
  std::int64_t conv_channels() const { return config_.intermediate + 2 * config_.groups * config_.state; }
  // The element-wise steps' operands: dt_raw (batch, length, heads) with unit stride along heads,
  // x (batch, length, heads, head_dim) contiguous.
  detail::Mamba2StepParams step_params(const Tensor& dt_raw, const Tensor& x) const;

  Mamba2MixerConfig config_{};
  Tensor in_proj_, in_proj_bias_, conv_, conv_bias_, dt_bias_, A_, D_, norm_, out_proj_, out_proj_bias_;
};

/// A hybrid stack's Mamba-2 layer, sized by the config's keys mamba2_num_heads x mamba2_head_dim
/// (the hidden size doubled, in heads of 64), mamba2_d_state (64), mamba2_n_groups (1),
/// mamba2_d_conv (4) and mamba2_chunk_size (256); no dt clamp, a conv bias, no projection biases.
std::unique_ptr<Mixer> make_mamba2_mixer(Checkpoint& checkpoint, const MixerSite& site);

}  // namespace subq::ssm
