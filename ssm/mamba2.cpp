// The mixers of Hugging Face Mamba2ForCausalLM checkpoints. Each layer's mixer, on h (batch, length, hidden):
//   gate, xBC, dt = in_proj(h)               intermediate, intermediate + 2 * groups * N, heads
//   x, B, C      = silu(causal_conv1d(xBC))  x as (heads, head_dim), B and C as (groups, N)
//   dt           = clamp(softplus(dt + dt_bias), time_step_limit)
//   y            = ssd(x * dt, -exp(A_log) * dt, B, C) + D * x
//   out          = out_proj(rms_norm(y * silu(gate)))
// Runs on the CPU in float32.
#include <algorithm>
#include <cmath>
#include <vector>

#include "conv/causal_conv1d.hpp"
#include "core/check.hpp"
#include "core/dense.hpp"
#include "core/math.hpp"
#include "ssm/backbone.hpp"
#include "ssm/ssd.hpp"

namespace subq::ssm {

namespace {

struct Mamba2Config {
  std::int64_t vocab_size, hidden_size, intermediate_size, state_size, conv_kernel, num_heads, head_dim, n_groups,
      chunk_size, num_layers;
  double layer_norm_epsilon, time_step_min, time_step_max;  // the last two: the clamp of dt
  bool use_bias, use_conv_bias, tie_word_embeddings;
};

Mamba2Config read_config(const JsonConfig& c) {
  const std::string act = c.get_string("hidden_act", "silu");
  SUBQ_CHECK(act == "silu", "{}: hidden_act '{}': only silu is supported", c.source(), act);
  SUBQ_CHECK(c.get_bool("rms_norm", true), "{}: rms_norm false is not supported", c.source());
  Mamba2Config m{};
  m.vocab_size = c.get_int("vocab_size");
  m.hidden_size = c.get_int("hidden_size");
  m.intermediate_size = std::int64_t(c.get_double("expand") * double(m.hidden_size));
  m.state_size = c.get_int("state_size");
  m.conv_kernel = c.get_int("conv_kernel");
  m.num_heads = c.get_int("num_heads");
  m.head_dim = c.get_int("head_dim");
  m.n_groups = c.get_int("n_groups");
  m.chunk_size = c.get_int("chunk_size");
  m.num_layers = c.get_int("num_hidden_layers");
  m.layer_norm_epsilon = c.get_double("layer_norm_epsilon");
  const std::vector<double> limit = c.has("time_step_limit") ? c.get_doubles("time_step_limit")
                                                             : std::vector<double>{0.0, INFINITY};
  SUBQ_CHECK(limit.size() == 2 && limit[0] <= limit[1], "{}: time_step_limit: expected [low, high]", c.source());
  m.time_step_min = limit[0], m.time_step_max = limit[1];
  m.use_bias = c.get_bool("use_bias", false);
  m.use_conv_bias = c.get_bool("use_conv_bias", true);
  m.tie_word_embeddings = c.get_bool("tie_word_embeddings", false);
  SUBQ_CHECK(m.num_heads * m.head_dim == m.intermediate_size,
             "{}: num_heads * head_dim = {} * {} must equal expand * hidden_size = {}", c.source(), m.num_heads,
             m.head_dim, m.intermediate_size);
  SUBQ_CHECK(m.n_groups >= 1 && m.num_heads % m.n_groups == 0, "{}: n_groups {} must divide num_heads {}", c.source(),
             m.n_groups, m.num_heads);
  return m;
}

struct MixerWeights {
  Tensor in_proj, in_proj_bias, conv, conv_bias, dt_bias, A, D, norm, out_proj, out_proj_bias;
};

std::int64_t conv_channels(const Mamba2Config& c) { return c.intermediate_size + 2 * c.n_groups * c.state_size; }

MixerWeights load_mixer(Checkpoint& ck, const Mamba2Config& c, int layer) {
  const std::int64_t H = c.hidden_size, I = c.intermediate_size, heads = c.num_heads, CD = conv_channels(c);
  auto take = [&](const std::string& name, const Shape& shape) { return ck.take(mixer_tensor(layer, name), shape); };
  MixerWeights w;
  w.in_proj = take("in_proj.weight", {I + CD + heads, H});
  if (c.use_bias) w.in_proj_bias = take("in_proj.bias", {I + CD + heads});
  w.conv = take("conv1d.weight", {CD, 1, c.conv_kernel}).view({CD, c.conv_kernel});
  if (c.use_conv_bias) w.conv_bias = take("conv1d.bias", {CD});
  w.dt_bias = take("dt_bias", {heads});
  w.A = take("A_log", {heads}).clone();
  for (std::int64_t h = 0; h < heads; ++h) w.A.data<float>()[h] = -std::exp(w.A.data<float>()[h]);
  w.D = take("D", {heads});
  w.norm = take("norm.weight", {I});
  w.out_proj = take("out_proj.weight", {H, I});
  if (c.use_bias) w.out_proj_bias = take("out_proj.bias", {H});
  return w;
}

class Mamba2Mixers final : public Mixers {
 public:
  Mamba2Mixers(const Mamba2Config& config, std::vector<MixerWeights> weights)
      : config_(config), weights_(std::move(weights)) {}

  Tensor mix(int layer, const Tensor& h, std::vector<Tensor>* state) const override {
    const MixerWeights& w = weights_[std::size_t(layer)];
    const Mamba2Config& c = config_;
    const std::int64_t batch = h.size(0), L = h.size(1), I = c.intermediate_size, heads = c.num_heads,
                       P = c.head_dim, G = c.n_groups, N = c.state_size, CD = conv_channels(c);
    const Tensor proj = linear(h, w.in_proj, w.in_proj_bias);  // (batch, L, I + CD + heads)
    const Tensor conv_state = state ? (*state)[kConvState] : Tensor{};
    const conv::CausalConv1dResult conv = conv::causal_conv1d(proj.slice(2, I, I + CD).transpose(1, 2), w.conv,
                                                              w.conv_bias, conv::Activation::Silu, conv_state);
    const Tensor xbc = conv.out.transpose(1, 2).contiguous();  // (batch, L, CD)
    const Tensor x = xbc.slice(2, 0, I).contiguous();          // (batch, L, I) = (batch, L, heads, P)
    const Tensor dt = time_steps(proj.slice(2, I + CD, I + CD + heads), w);
    Tensor x_dt = Tensor::empty({batch, L, heads, P}, DType::F32), a_dt = Tensor::empty({batch, L, heads}, DType::F32);
    for (std::int64_t i = 0; i < batch * L * heads; ++i) {
      const float step = dt.data<float>()[i];
      a_dt.data<float>()[i] = w.A.data<float>()[i % heads] * step;
      for (std::int64_t p = 0; p < P; ++p) x_dt.data<float>()[i * P + p] = x.data<float>()[i * P + p] * step;
    }
    SsdOptions options;
    options.chunk_length = c.chunk_size;
    if (state) options.initial_state = (*state)[kScanState];
    const SsdResult s = ssd(x_dt, a_dt, xbc.slice(2, I, I + G * N).contiguous().view({batch, L, G, N}),
                            xbc.slice(2, I + G * N, CD).contiguous().view({batch, L, G, N}), options);
    float* y = s.Y.data<float>();  // (batch, L, heads, P) = (batch, L, I)
    for (std::int64_t i = 0; i < batch * L * I; ++i) y[i] += w.D.data<float>()[(i / P) % heads] * x.data<float>()[i];
    if (state) (*state)[kConvState] = conv.final_state, (*state)[kScanState] = s.final_state;
    const Tensor normed = rms_norm(s.Y.view({batch, L, I}), w.norm, c.layer_norm_epsilon, proj.slice(2, 0, I));
    return linear(normed, w.out_proj, w.out_proj_bias);
  }

 private:
  // dt_raw (batch, length, heads) -> clamp(softplus(dt_raw + dt_bias)), contiguous.
  Tensor time_steps(const Tensor& dt_raw, const MixerWeights& w) const {
    Tensor dt = dt_raw.contiguous().clone();
    float* p = dt.data<float>();
    const std::int64_t heads = config_.num_heads;
    for (std::int64_t i = 0; i < dt.numel(); ++i)
      p[i] = float(std::clamp<double>(softplus(p[i] + w.dt_bias.data<float>()[i % heads]), config_.time_step_min,
                                      config_.time_step_max));
    return dt;
  }

  Mamba2Config config_;
  std::vector<MixerWeights> weights_;
};

}  // namespace

LoadedMixers load_mamba2_mixers(Checkpoint& checkpoint) {
  const Mamba2Config c = read_config(checkpoint.config());
  std::vector<MixerWeights> weights;
  for (int i = 0; i < c.num_layers; ++i) weights.push_back(load_mixer(checkpoint, c, i));
  return {std::make_unique<Mamba2Mixers>(c, std::move(weights)),
          {c.vocab_size, c.hidden_size, c.num_layers, c.layer_norm_epsilon, c.tie_word_embeddings}};
}

}  // namespace subq::ssm
