#pragma once
// Internal: xLSTM's mLSTM layer (Beck et al. 2024), as NX-AI/xlstm's mLSTMLayer defines it, on x
// (batch, length, hidden), with inner = proj_factor x hidden rounded up to a multiple of 64:
//   x_m, z = proj_up x                                  (inner each)
//   c = silu(conv1d(x_m))                               (a causal depthwise convolution with a bias)
//   q, k = q_proj c, k_proj c;  v = v_proj x_m          (headwise: blocks of qkv_proj_blocksize)
//   i, f = igate [q, k, v], fgate [q, k, v]             (pre-activations, one per head)
//   h = mlstm(q, k, v, i, f)                            (recurrent/mlstm.hpp: sigmoid forget gate)
//   out = proj_down((group_norm_per_head(h) + learnable_skip c) * silu(z))
// Decoding carries the convolution's last inputs and the cell's (C, n, m). float32, on the CPU or
// the weights' GPU.
#include <string>

#include "core/checkpoint.hpp"
#include "core/mixer.hpp"
#include "core/tensor.hpp"

namespace subq::recurrent {

struct MlstmMixerConfig {
  std::int64_t hidden, inner, heads, qkv_block, conv_width;
  bool bias;  // on proj_up, the headwise projections and proj_down (xlstm's `bias`)
};

class MlstmMixer final : public Mixer {
 public:
  /// Takes <prefix>proj_up.weight, {q,k,v}_proj.weight ((inner / block, block, block), xlstm's
  /// headwise layout), conv1d.conv.{weight,bias}, mlstm_cell.{igate,fgate}.{weight,bias},
  /// mlstm_cell.outnorm.weight, learnable_skip, proj_down.weight; with `bias` the projections' biases.
  static MlstmMixer load(Checkpoint& checkpoint, const std::string& prefix, const MlstmMixerConfig& config);

  /// x (batch, length, hidden) -> (batch, length, hidden); the state: the convolution's inputs and
  /// the cell's C, n, m.
  Tensor forward(const Tensor& x, MixerState* state, MixerContext& context) const override;

 private:
  MlstmMixerConfig config_{};
  Tensor up_, up_bias_, q_, q_bias_, k_, k_bias_, v_, v_bias_, conv_, conv_bias_, down_, down_bias_;
  Tensor gates_q_, gates_k_, gates_v_, gates_bias_;  // [igate; fgate] by the columns that read q, k, v
  Tensor out_norm_, skip_;
};

/// A hybrid stack's mLSTM layer, sized by the config's keys mlstm_num_heads (4), mlstm_proj_factor
/// (2), mlstm_qkv_proj_blocksize (4), mlstm_conv1d_kernel_size (4), mlstm_bias (false).
std::unique_ptr<Mixer> make_mlstm_mixer(Checkpoint& checkpoint, const MixerSite& site);

}  // namespace subq::recurrent
