#include "recurrent/mlstm_mixer.hpp"

#include <cmath>

#include "conv/causal_conv1d.hpp"
#include "core/check.hpp"
#include "core/dense.hpp"
#include "core/elementwise.hpp"
#include "recurrent/mlstm.hpp"

namespace subq::recurrent {

namespace {

enum Slot : std::size_t { kConvState, kC, kN, kM };
constexpr double kNormEpsilon = 1e-5;  // xlstm's MultiHeadLayerNorm

}  // namespace

MlstmMixer MlstmMixer::load(Checkpoint& ck, const std::string& prefix, const MlstmMixerConfig& c) {
  MlstmMixer m;
  m.config_ = c;
  const std::int64_t H = c.hidden, I = c.inner, blocks = I / c.qkv_block, b = c.qkv_block;
  auto take = [&](const std::string& name, const Shape& shape) { return ck.take(prefix + name, shape); };
  auto bias = [&](const std::string& name, std::int64_t n) { return c.bias ? take(name, {n}) : Tensor{}; };
  m.up_ = ck.take_matrix(prefix + "proj_up.weight", {2 * I, H});
  m.up_bias_ = bias("proj_up.bias", 2 * I);
  // xlstm's headwise weights are (blocks, out, in); block_diagonal_linear takes (blocks, in, out).
  auto headwise = [&](const std::string& name) { return take(name, {blocks, b, b}).transpose(1, 2).contiguous(); };
  m.q_ = headwise("q_proj.weight"), m.q_bias_ = bias("q_proj.bias", I);
  m.k_ = headwise("k_proj.weight"), m.k_bias_ = bias("k_proj.bias", I);
  m.v_ = headwise("v_proj.weight"), m.v_bias_ = bias("v_proj.bias", I);
  m.conv_ = take("conv1d.conv.weight", {I, 1, c.conv_width}).view({I, c.conv_width});
  m.conv_bias_ = take("conv1d.conv.bias", {I});
  // Both gates read [q, k, v]: one (2 heads, 3 inner) matrix, split by the columns each input meets.
  const Tensor igate = take("mlstm_cell.igate.weight", {c.heads, 3 * I}),
               fgate = take("mlstm_cell.fgate.weight", {c.heads, 3 * I});
  auto columns = [&](std::int64_t part) {
    Tensor both = Tensor::empty({2 * c.heads, I}, DType::F32, ck.device());
    both.slice(0, 0, c.heads).copy_from(igate.slice(1, part * I, (part + 1) * I).contiguous());
    both.slice(0, c.heads, 2 * c.heads).copy_from(fgate.slice(1, part * I, (part + 1) * I).contiguous());
    return both;
  };
  m.gates_q_ = columns(0), m.gates_k_ = columns(1), m.gates_v_ = columns(2);
  m.gates_bias_ = Tensor::empty({2 * c.heads}, DType::F32, ck.device());
  m.gates_bias_.slice(0, 0, c.heads).copy_from(take("mlstm_cell.igate.bias", {c.heads}));
  m.gates_bias_.slice(0, c.heads, 2 * c.heads).copy_from(take("mlstm_cell.fgate.bias", {c.heads}));
  m.out_norm_ = ck.take_norm(prefix + "mlstm_cell.outnorm.weight", {I});
  m.skip_ = take("learnable_skip", {I});
  m.down_ = ck.take_matrix(prefix + "proj_down.weight", {H, I});
  m.down_bias_ = bias("proj_down.bias", H);
  return m;
}

Tensor MlstmMixer::forward(const Tensor& x, MixerState* state, MixerContext&) const {
  const MlstmMixerConfig& c = config_;
  const std::int64_t B = x.size(0), L = x.size(1), I = c.inner, NH = c.heads, DH = I / NH;
  const Tensor up = linear(x, up_, up_bias_);
  const Tensor x_m = up.slice(2, 0, I), z = up.slice(2, I, 2 * I).contiguous();
  const conv::CausalConv1dResult conv = conv::causal_conv1d(x_m.transpose(1, 2), conv_, conv_bias_, Activation::Silu,
                                                            state ? (*state)[kConvState] : Tensor{});
  const Tensor conved = conv.out.transpose(1, 2).contiguous();
  const Tensor q = block_diagonal_linear(conved, q_, q_bias_), k = block_diagonal_linear(conved, k_, k_bias_),
               v = block_diagonal_linear(x_m, v_, v_bias_);
  Tensor gates = linear(q, gates_q_, gates_bias_);
  add_into(gates, linear(k, gates_k_));
  add_into(gates, linear(v, gates_v_));
  MlstmOptions options;
  if (state) options.initial_C = (*state)[kC], options.initial_n = (*state)[kN], options.initial_m = (*state)[kM];
  const auto heads = [&](const Tensor& t) { return t.view({B, L, NH, DH}); };
  const MlstmResult r = mlstm(heads(q), heads(k), heads(v), gates.slice(2, 0, NH), gates.slice(2, NH, 2 * NH), options);
  if (state)
    (*state)[kConvState] = conv.final_state, (*state)[kC] = r.final_C, (*state)[kN] = r.final_n,
    (*state)[kM] = r.final_m;
  const Tensor normed = group_norm(r.h.view({B, L, I}), NH, out_norm_, {}, kNormEpsilon);
  return linear(swish_product(z, add_scaled(normed, conved, skip_)), down_, down_bias_);
}

std::unique_ptr<Mixer> make_mlstm_mixer(Checkpoint& checkpoint, const MixerSite& site) {
  const JsonConfig& c = site.config;
  // xlstm rounds proj_factor x hidden up to a multiple of 64.
  const std::int64_t inner =
      std::int64_t(std::ceil(c.get_double("mlstm_proj_factor", 2.0) * double(site.hidden) / 64)) * 64;
  const MlstmMixerConfig config{site.hidden,
                                inner,
                                c.get_int("mlstm_num_heads", 4),
                                c.get_int("mlstm_qkv_proj_blocksize", 4),
                                c.get_int("mlstm_conv1d_kernel_size", 4),
                                c.get_bool("mlstm_bias", false)};
  SUBQ_CHECK(config.heads >= 1 && inner % config.heads == 0 && config.qkv_block >= 1 && inner % config.qkv_block == 0 &&
                 config.conv_width >= 1,
             "{}: the mLSTM's inner width {} must be a multiple of mlstm_num_heads {} and of mlstm_qkv_proj_blocksize "
             "{}; mlstm_conv1d_kernel_size {} must be >= 1",
             c.source(), inner, config.heads, config.qkv_block, config.conv_width);
  return std::make_unique<MlstmMixer>(MlstmMixer::load(checkpoint, site.prefix, config));
}

}  // namespace subq::recurrent
