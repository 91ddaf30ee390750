#pragma once
// Internal: one Mamba mixer layer, as Hugging Face's Mamba and Jamba define it, on h (batch,
// length, hidden):
//   x, z     = in_proj(h)                           (batch, length, intermediate) each
//   x        = silu(causal_conv1d(x))               depthwise, conv_kernel wide
//   dt, B, C = x_proj(x)                            time_step_rank, state_size, state_size
//              (Jamba: each then RMS-normalised)
//   y        = selective_scan(x, dt_proj(dt), -exp(A_log), B, C, D, z, softplus)
//   out      = out_proj(y)
#include <string>
#include <vector>

#include "core/checkpoint.hpp"
#include "core/mixer.hpp"
#include "core/tensor.hpp"

namespace subq::ssm {

struct MambaMixerConfig {
  std::int64_t hidden, intermediate, state, conv_kernel, dt_rank;
  bool proj_bias, conv_bias;
  double inner_norm_eps;  // > 0: Jamba's RMSNorms on dt, B and C (dt_layernorm, b_layernorm, c_layernorm)
};

/// The slots of Mamba's and Mamba-2's states: the causal convolution's last inputs, the scan's state.
enum MambaStateSlot : std::size_t { kConvState = 0, kScanState = 1 };

class MambaMixer final : public Mixer {
 public:
  /// Takes <prefix>in_proj.weight, conv1d.weight, x_proj.weight, dt_proj.{weight, bias}, A_log, D,
  /// out_proj.weight (and the biases and inner norms the config asks for).
  static MambaMixer load(Checkpoint& checkpoint, const std::string& prefix, const MambaMixerConfig& config);

  /// h (batch, length, hidden) -> (batch, length, hidden); the state's slots are MambaStateSlot's.
  Tensor forward(const Tensor& h, MixerState* state, MixerContext& context) const override;

 private:
  MambaMixerConfig config_{};
  Tensor in_proj_, in_proj_bias_, conv_, conv_bias_, x_proj_, dt_proj_, dt_bias_, A_, D_, out_proj_, out_proj_bias_;
  Tensor dt_norm_, b_norm_, c_norm_;
};

/// A hybrid stack's Mamba layer (Jamba's), sized by the config's keys mamba_expand (2),
/// mamba_d_state (16), mamba_d_conv (4), mamba_dt_rank (hidden / 16 rounded up when absent or
/// null), mamba_proj_bias (false) and mamba_conv_bias (true), with Jamba's RMSNorms on dt, B and C.
std::unique_ptr<Mixer> make_mamba_mixer(Checkpoint& checkpoint, const MixerSite& site);

}  // namespace subq::ssm
