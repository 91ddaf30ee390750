#include "ssm/mamba2_mixer.hpp"

#include <algorithm>
#include <cmath>

#include "conv/causal_conv1d.hpp"
#include "core/dense.hpp"
#include "core/check.hpp"
#include "core/math.hpp"
#include "ssm/mamba2_mixer_cuda.hpp"
#include "ssm/mamba_mixer.hpp"
#include "ssm/ssd.hpp"

namespace subq::ssm {

namespace {

float time_step(const detail::Mamba2StepParams& p, std::int64_t row, std::int64_t h) {
  const float dt = softplus(p.dt_raw[row * p.dt_row_stride + h] + p.dt_bias[h]);
  return std::min(std::max(dt, p.dt_min), p.dt_max);
}

// The CPU spec of ssm/mamba2_mixer.cu's kernels.
void ssd_inputs_cpu(const detail::Mamba2StepParams& p, float* x_dt, float* a_dt) {
  for (std::int64_t row = 0; row < p.rows; ++row)
    for (std::int64_t h = 0; h < p.heads; ++h) {
      const float dt = time_step(p, row, h);
      a_dt[row * p.heads + h] = p.A[h] * dt;
      for (std::int64_t i = (row * p.heads + h) * p.P; i < (row * p.heads + h + 1) * p.P; ++i) x_dt[i] = p.x[i] * dt;
    }
}

void skip_cpu(const detail::Mamba2StepParams& p, float* y) {
  for (std::int64_t i = 0; i < p.rows * p.heads * p.P; ++i) y[i] += p.D[i / p.P % p.heads] * p.x[i];
}

}  // namespace

Mamba2Mixer Mamba2Mixer::load(Checkpoint& ck, const std::string& prefix, const Mamba2MixerConfig& c) {
  Mamba2Mixer m;
  m.config_ = c;
  const std::int64_t H = c.hidden, I = c.intermediate, heads = c.heads, CD = m.conv_channels();
  auto take = [&](const std::string& name, const Shape& shape) { return ck.take(prefix + name, shape); };
  auto matrix = [&](const std::string& name, const Shape& shape) { return ck.take_matrix(prefix + name, shape); };
  m.in_proj_ = matrix("in_proj.weight", {I + CD + heads, H});
  if (c.bias) m.in_proj_bias_ = take("in_proj.bias", {I + CD + heads});
  m.conv_ = take("conv1d.weight", {CD, 1, c.conv_kernel}).view({CD, c.conv_kernel});
  if (c.conv_bias) m.conv_bias_ = take("conv1d.bias", {CD});
  m.dt_bias_ = take("dt_bias", {heads});
  Tensor A = ck.take_on_cpu(prefix + "A_log", {heads});
  for (std::int64_t h = 0; h < heads; ++h) A.data<float>()[h] = -std::exp(A.data<float>()[h]);
  m.A_ = A.to(ck.device());
  m.D_ = take("D", {heads});
  m.norm_ = ck.take_norm(prefix + "norm.weight", {I});
  m.out_proj_ = matrix("out_proj.weight", {H, I});
  if (c.bias) m.out_proj_bias_ = take("out_proj.bias", {H});
  return m;
}

Tensor Mamba2Mixer::forward(const Tensor& h, MixerState* state, MixerContext&) const {
  const Mamba2MixerConfig& c = config_;
  const std::int64_t batch = h.size(0), L = h.size(1), I = c.intermediate, heads = c.heads, P = c.head_dim,
                     G = c.groups, N = c.state, CD = conv_channels();
  const Tensor proj = linear(h, in_proj_, in_proj_bias_);  // (batch, L, I + CD + heads)
  const Tensor conv_state = state ? (*state)[kConvState] : Tensor{};
  const conv::CausalConv1dResult conv =
      conv::causal_conv1d(proj.slice(2, I, I + CD).transpose(1, 2), conv_, conv_bias_, Activation::Silu, conv_state);
  const Tensor xbc = conv.out.transpose(1, 2).contiguous();  // (batch, L, CD)
  const Tensor x = xbc.slice(2, 0, I).contiguous();          // (batch, L, I) = (batch, L, heads, P)
  Tensor x_dt = Tensor::empty({batch, L, heads, P}, DType::F32, h.device());
  Tensor a_dt = Tensor::empty({batch, L, heads}, DType::F32, h.device());
  const detail::Mamba2StepParams steps = step_params(proj.slice(2, I + CD, I + CD + heads), x);
  if (h.device().is_cuda())
    launch_on_cuda("Mamba-2 mixer", h.device(),
                   [&] { return detail::launch_mamba2_ssd_inputs(steps, x_dt.data<float>(), a_dt.data<float>()); });
  else
    ssd_inputs_cpu(steps, x_dt.data<float>(), a_dt.data<float>());
  SsdOptions options;
  options.chunk_length = c.chunk;
  if (state) options.initial_state = (*state)[kScanState];
  const SsdResult s = ssd(x_dt, a_dt, xbc.slice(2, I, I + G * N).contiguous().view({batch, L, G, N}),
                          xbc.slice(2, I + G * N, CD).contiguous().view({batch, L, G, N}), options);
  if (h.device().is_cuda())
    launch_on_cuda("Mamba-2 mixer", h.device(), [&] { return detail::launch_mamba2_skip(steps, s.Y.data<float>()); });
  else
    skip_cpu(steps, s.Y.data<float>());
  if (state) (*state)[kConvState] = conv.final_state, (*state)[kScanState] = s.final_state;
  const Tensor normed = rms_norm(s.Y.view({batch, L, I}), norm_, c.norm_eps, proj.slice(2, 0, I));
  return linear(normed, out_proj_, out_proj_bias_);
}

detail::Mamba2StepParams Mamba2Mixer::step_params(const Tensor& dt_raw, const Tensor& x) const {
  SUBQ_CHECK(dt_raw.stride(2) == 1, "Mamba-2 mixer: dt: expected unit stride along heads");
  const std::int64_t rows = x.size(0) * x.size(1);
  return {dt_raw.data<float>(), dt_raw.stride(1), x.data<float>(), A_.data<float>(), dt_bias_.data<float>(),
          D_.data<float>(), float(config_.dt_min), float(config_.dt_max), rows, config_.heads, config_.head_dim};
}

std::unique_ptr<Mixer> make_mamba2_mixer(Checkpoint& checkpoint, const MixerSite& site) {
  const JsonConfig& c = site.config;
  const std::int64_t head_dim = c.get_int("mamba2_head_dim", 64);
  const std::int64_t heads = c.get_int("mamba2_num_heads", 2 * site.hidden / head_dim),
                     groups = c.get_int("mamba2_n_groups", 1);
  SUBQ_CHECK(heads >= 1 && head_dim >= 1 && groups >= 1 && heads % groups == 0,
             "{}: mamba2_num_heads {} must be a positive multiple of mamba2_n_groups {}", c.source(), heads, groups);
  const Mamba2MixerConfig config{site.hidden,
                                 heads * head_dim,
                                 c.get_int("mamba2_d_state", 64),
                                 c.get_int("mamba2_d_conv", 4),
                                 heads,
                                 head_dim,
                                 groups,
                                 c.get_int("mamba2_chunk_size", 256),
                                 site.eps,
                                 0.0,
                                 INFINITY,
                                 false,
                                 true};
  return std::make_unique<Mamba2Mixer>(Mamba2Mixer::load(checkpoint, site.prefix, config));
}

}  // namespace subq::ssm
