#include "ssm/mamba2_mixer.hpp"

#include <algorithm>
#include <cmath>

#include "conv/causal_conv1d.hpp"
#include "core/dense.hpp"
#include "core/math.hpp"
#include "ssm/mamba_mixer.hpp"
#include "ssm/ssd.hpp"

namespace subq::ssm {

Mamba2Mixer Mamba2Mixer::load(Checkpoint& ck, const std::string& prefix, const Mamba2MixerConfig& c) {
  Mamba2Mixer m;
  m.config_ = c;
  const std::int64_t H = c.hidden, I = c.intermediate, heads = c.heads, CD = m.conv_channels();
  auto take = [&](const std::string& name, const Shape& shape) { return ck.take(prefix + name, shape); };
  m.in_proj_ = take("in_proj.weight", {I + CD + heads, H});
  if (c.bias) m.in_proj_bias_ = take("in_proj.bias", {I + CD + heads});
  m.conv_ = take("conv1d.weight", {CD, 1, c.conv_kernel}).view({CD, c.conv_kernel});
  if (c.conv_bias) m.conv_bias_ = take("conv1d.bias", {CD});
  m.dt_bias_ = take("dt_bias", {heads});
  m.A_ = take("A_log", {heads}).clone();
  for (std::int64_t h = 0; h < heads; ++h) m.A_.data<float>()[h] = -std::exp(m.A_.data<float>()[h]);
  m.D_ = take("D", {heads});
  m.norm_ = take("norm.weight", {I});
  m.out_proj_ = take("out_proj.weight", {H, I});
  if (c.bias) m.out_proj_bias_ = take("out_proj.bias", {H});
  return m;
}

Tensor Mamba2Mixer::forward(const Tensor& h, std::vector<Tensor>* state) const {
  const Mamba2MixerConfig& c = config_;
  const std::int64_t batch = h.size(0), L = h.size(1), I = c.intermediate, heads = c.heads, P = c.head_dim,
                     G = c.groups, N = c.state, CD = conv_channels();
  const Tensor proj = linear(h, in_proj_, in_proj_bias_);  // (batch, L, I + CD + heads)
  const Tensor conv_state = state ? (*state)[kConvState] : Tensor{};
  const conv::CausalConv1dResult conv =
      conv::causal_conv1d(proj.slice(2, I, I + CD).transpose(1, 2), conv_, conv_bias_, conv::Activation::Silu, conv_state);
  const Tensor xbc = conv.out.transpose(1, 2).contiguous();  // (batch, L, CD)
  const Tensor x = xbc.slice(2, 0, I).contiguous();          // (batch, L, I) = (batch, L, heads, P)
  const Tensor dt = time_steps(proj.slice(2, I + CD, I + CD + heads));
  Tensor x_dt = Tensor::empty({batch, L, heads, P}, DType::F32), a_dt = Tensor::empty({batch, L, heads}, DType::F32);
  for (std::int64_t i = 0; i < batch * L * heads; ++i) {
    const float step = dt.data<float>()[i];
    a_dt.data<float>()[i] = A_.data<float>()[i % heads] * step;
    for (std::int64_t p = 0; p < P; ++p) x_dt.data<float>()[i * P + p] = x.data<float>()[i * P + p] * step;
  }
  SsdOptions options;
  options.chunk_length = c.chunk;
  if (state) options.initial_state = (*state)[kScanState];
  const SsdResult s = ssd(x_dt, a_dt, xbc.slice(2, I, I + G * N).contiguous().view({batch, L, G, N}),
                          xbc.slice(2, I + G * N, CD).contiguous().view({batch, L, G, N}), options);
  float* y = s.Y.data<float>();  // (batch, L, heads, P) = (batch, L, I)
  for (std::int64_t i = 0; i < batch * L * I; ++i) y[i] += D_.data<float>()[(i / P) % heads] * x.data<float>()[i];
  if (state) (*state)[kConvState] = conv.final_state, (*state)[kScanState] = s.final_state;
  const Tensor normed = rms_norm(s.Y.view({batch, L, I}), norm_, c.norm_eps, proj.slice(2, 0, I));
  return linear(normed, out_proj_, out_proj_bias_);
}

Tensor Mamba2Mixer::time_steps(const Tensor& dt_raw) const {
  Tensor dt = dt_raw.contiguous().clone();
  float* p = dt.data<float>();
  const std::int64_t heads = config_.heads;
  for (std::int64_t i = 0; i < dt.numel(); ++i)
    p[i] = float(std::clamp<double>(softplus(p[i] + dt_bias_.data<float>()[i % heads]), config_.dt_min, config_.dt_max));
  return dt;
}

}  // namespace subq::ssm
