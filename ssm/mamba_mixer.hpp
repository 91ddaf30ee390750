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
#include "core/tensor.hpp"

namespace subq::ssm {

struct MambaMixerConfig {
  std::int64_t hidden, intermediate, state, conv_kernel, dt_rank;
  bool proj_bias, conv_bias;
  double inner_norm_eps;  // > 0: Jamba's RMSNorms on dt, B and C (dt_layernorm, b_layernorm, c_layernorm)
};

/// A layer's slots in the model cache.
enum MixerState : std::size_t { kConvState = 0, kScanState = 1, kMixerStates = 2 };

class MambaMixer {
 public:
  /// Takes <prefix>in_proj.weight, conv1d.weight, x_proj.weight, dt_proj.{weight, bias}, A_log, D,
  /// out_proj.weight (and the biases and inner norms the config asks for).
  static MambaMixer load(Checkpoint& checkpoint, const std::string& prefix, const MambaMixerConfig& config);

  /// h (batch, length, hidden) -> (batch, length, hidden). With a state ({conv, scan}; undefined:
  /// zeros), starts from it and leaves the state after the last token there.
  Tensor forward(const Tensor& h, std::vector<Tensor>* state) const;

 private:
  MambaMixerConfig config_{};
  Tensor in_proj_, in_proj_bias_, conv_, conv_bias_, x_proj_, dt_proj_, dt_bias_, A_, D_, out_proj_, out_proj_bias_;
  Tensor dt_norm_, b_norm_, c_norm_;
};

}  // namespace subq::ssm
