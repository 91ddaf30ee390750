#include "ssm/mamba_mixer.hpp"

#include <cmath>

#include "conv/causal_conv1d.hpp"
#include "core/check.hpp"
#include "core/dense.hpp"
#include "ssm/selective_scan.hpp"

namespace subq::ssm {

MambaMixer MambaMixer::load(Checkpoint& ck, const std::string& prefix, const MambaMixerConfig& c) {
  const std::int64_t H = c.hidden, I = c.intermediate, N = c.state, R = c.dt_rank;
  auto take = [&](const std::string& name, const Shape& shape) { return ck.take(prefix + name, shape); };
  auto matrix = [&](const std::string& name, const Shape& shape) { return ck.take_matrix(prefix + name, shape); };
  MambaMixer m;
  m.config_ = c;
  m.in_proj_ = matrix("in_proj.weight", {2 * I, H});
  if (c.proj_bias) m.in_proj_bias_ = take("in_proj.bias", {2 * I});
  m.conv_ = take("conv1d.weight", {I, 1, c.conv_kernel}).view({I, c.conv_kernel});
  if (c.conv_bias) m.conv_bias_ = take("conv1d.bias", {I});
  m.x_proj_ = matrix("x_proj.weight", {R + 2 * N, I});
  m.dt_proj_ = matrix("dt_proj.weight", {I, R});
  m.dt_bias_ = take("dt_proj.bias", {I});
  // A = -exp(A_log), as the reference computes it before every scan.
  Tensor A = ck.take_on_cpu(prefix + "A_log", {I, N});
  for (std::int64_t i = 0; i < A.numel(); ++i) A.data<float>()[i] = -std::exp(A.data<float>()[i]);
  m.A_ = A.to(ck.device());
  m.D_ = take("D", {I});
  m.out_proj_ = matrix("out_proj.weight", {H, I});
  if (c.proj_bias) m.out_proj_bias_ = take("out_proj.bias", {H});
  if (c.inner_norm_eps > 0) {
    m.dt_norm_ = ck.take_norm(prefix + "dt_layernorm.weight", {R});
    m.b_norm_ = ck.take_norm(prefix + "b_layernorm.weight", {N});
    m.c_norm_ = ck.take_norm(prefix + "c_layernorm.weight", {N});
  }
  return m;
}

Tensor MambaMixer::forward(const Tensor& h, MixerState* state, MixerContext&) const {
  const std::int64_t I = config_.intermediate, N = config_.state, R = config_.dt_rank;
  const Tensor xz = linear(h, in_proj_, in_proj_bias_);
  const Tensor conv_state = state ? (*state)[kConvState] : Tensor{};
  const conv::CausalConv1dResult conv =
      conv::causal_conv1d(xz.slice(2, 0, I).transpose(1, 2), conv_, conv_bias_, Activation::Silu, conv_state);
  const Tensor x_dbl = linear(conv.out.transpose(1, 2), x_proj_);  // (batch, length, R + 2N)
  Tensor dt = x_dbl.slice(2, 0, R), B = x_dbl.slice(2, R, R + N), C = x_dbl.slice(2, R + N, R + 2 * N);
  if (dt_norm_.defined()) {
    const double eps = config_.inner_norm_eps;
    dt = rms_norm(dt, dt_norm_, eps), B = rms_norm(B, b_norm_, eps), C = rms_norm(C, c_norm_, eps);
  }
  SelectiveScanOptions options;
  options.D = D_;
  options.z = xz.slice(2, I, 2 * I).transpose(1, 2);
  options.delta_bias = dt_bias_;
  options.delta_softplus = true;
  if (state) options.initial_state = (*state)[kScanState];
  const SelectiveScanResult scan =
      selective_scan(conv.out, linear(dt, dt_proj_).transpose(1, 2), A_, B.transpose(1, 2), C.transpose(1, 2), options);
  if (state) (*state)[kConvState] = conv.final_state, (*state)[kScanState] = scan.final_state;
  return linear(scan.out.transpose(1, 2), out_proj_, out_proj_bias_);
}

std::unique_ptr<Mixer> make_mamba_mixer(Checkpoint& checkpoint, const MixerSite& site) {
  const JsonConfig& c = site.config;
  const std::int64_t H = site.hidden, dt_rank = c.is_null("mamba_dt_rank") ? (H + 15) / 16 : c.get_int("mamba_dt_rank");
  const MambaMixerConfig config{
      H,       c.get_int("mamba_expand", 2) * H,     c.get_int("mamba_d_state", 16),      c.get_int("mamba_d_conv", 4),
      dt_rank, c.get_bool("mamba_proj_bias", false), c.get_bool("mamba_conv_bias", true), site.eps};
  return std::make_unique<MambaMixer>(MambaMixer::load(checkpoint, site.prefix, config));
}

}  // namespace subq::ssm
