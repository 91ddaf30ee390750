// The mixers of Hugging Face MambaForCausalLM checkpoints. Each layer's mixer, on h (batch, length, hidden):
//   x, z  = in_proj(h)                                  (batch, length, intermediate) each
//   x     = silu(causal_conv1d(x))                      depthwise, conv_kernel wide
//   dt, B, C = x_proj(x)                                 time_step_rank, state_size, state_size
//   y     = selective_scan(x, dt_proj(dt), -exp(A_log), B, C, D, z, softplus)
//   out   = out_proj(y)
// Runs on the CPU in float32.
#include <cmath>
#include <vector>

#include "conv/causal_conv1d.hpp"
#include "core/check.hpp"
#include "core/dense.hpp"
#include "ssm/backbone.hpp"
#include "ssm/selective_scan.hpp"

namespace subq::ssm {

namespace {

struct MambaConfig {
  std::int64_t vocab_size, hidden_size, intermediate_size, state_size, conv_kernel, time_step_rank, num_layers;
  double layer_norm_epsilon;
  bool use_bias, use_conv_bias, tie_word_embeddings;
};

MambaConfig read_config(const JsonConfig& c) {
  const std::string act = c.get_string("hidden_act", "silu");
  SUBQ_CHECK(act == "silu", "{}: hidden_act '{}': only silu is supported", c.source(), act);
  return {c.get_int("vocab_size"),         c.get_int("hidden_size"),         c.get_int("intermediate_size"),
          c.get_int("state_size"),         c.get_int("conv_kernel"),         c.get_int("time_step_rank"),
          c.get_int("num_hidden_layers"),  c.get_double("layer_norm_epsilon"), c.get_bool("use_bias", false),
          c.get_bool("use_conv_bias", true), c.get_bool("tie_word_embeddings", true)};
}

struct MixerWeights {
  Tensor in_proj, in_proj_bias, conv, conv_bias, x_proj, dt_proj, dt_bias, A, D, out_proj, out_proj_bias;
};

// A = -exp(A_log), as the reference computes it before every scan.
Tensor negative_exp(const Tensor& a_log) {
  Tensor A = a_log.clone();
  for (std::int64_t i = 0; i < A.numel(); ++i) A.data<float>()[i] = -std::exp(A.data<float>()[i]);
  return A;
}

MixerWeights load_mixer(Checkpoint& ck, const MambaConfig& c, int layer) {
  const std::int64_t H = c.hidden_size, I = c.intermediate_size, N = c.state_size, R = c.time_step_rank;
  auto take = [&](const std::string& name, const Shape& shape) { return ck.take(mixer_tensor(layer, name), shape); };
  MixerWeights w;
  w.in_proj = take("in_proj.weight", {2 * I, H});
  if (c.use_bias) w.in_proj_bias = take("in_proj.bias", {2 * I});
  w.conv = take("conv1d.weight", {I, 1, c.conv_kernel}).view({I, c.conv_kernel});
  if (c.use_conv_bias) w.conv_bias = take("conv1d.bias", {I});
  w.x_proj = take("x_proj.weight", {R + 2 * N, I});
  w.dt_proj = take("dt_proj.weight", {I, R});
  w.dt_bias = take("dt_proj.bias", {I});
  w.A = negative_exp(take("A_log", {I, N}));
  w.D = take("D", {I});
  w.out_proj = take("out_proj.weight", {H, I});
  if (c.use_bias) w.out_proj_bias = take("out_proj.bias", {H});
  return w;
}

class MambaMixers final : public Mixers {
 public:
  MambaMixers(const MambaConfig& config, std::vector<MixerWeights> weights) : config_(config), weights_(std::move(weights)) {}

  Tensor mix(int layer, const Tensor& h, std::vector<Tensor>* state) const override {
    const MixerWeights& w = weights_[std::size_t(layer)];
    const std::int64_t I = config_.intermediate_size, N = config_.state_size, R = config_.time_step_rank;
    const Tensor xz = linear(h, w.in_proj, w.in_proj_bias);
    const Tensor conv_state = state ? (*state)[kConvState] : Tensor{};
    const conv::CausalConv1dResult conv = conv::causal_conv1d(xz.slice(2, 0, I).transpose(1, 2), w.conv, w.conv_bias,
                                                              conv::Activation::Silu, conv_state);
    const Tensor x_dbl = linear(conv.out.transpose(1, 2), w.x_proj);  // (batch, length, R + 2N)
    SelectiveScanOptions options;
    options.D = w.D;
    options.z = xz.slice(2, I, 2 * I).transpose(1, 2);
    options.delta_bias = w.dt_bias;
    options.delta_softplus = true;
    if (state) options.initial_state = (*state)[kScanState];
    const SelectiveScanResult scan =
        selective_scan(conv.out, linear(x_dbl.slice(2, 0, R), w.dt_proj).transpose(1, 2), w.A,
                       x_dbl.slice(2, R, R + N).transpose(1, 2), x_dbl.slice(2, R + N, R + 2 * N).transpose(1, 2), options);
    if (state) (*state)[kConvState] = conv.final_state, (*state)[kScanState] = scan.last_state;
    return linear(scan.out.transpose(1, 2), w.out_proj, w.out_proj_bias);
  }

 private:
  MambaConfig config_;
  std::vector<MixerWeights> weights_;
};

}  // namespace

LoadedMixers load_mamba_mixers(Checkpoint& checkpoint) {
  const MambaConfig c = read_config(checkpoint.config());
  std::vector<MixerWeights> weights;
  for (int i = 0; i < c.num_layers; ++i) weights.push_back(load_mixer(checkpoint, c, i));
  return {std::make_unique<MambaMixers>(c, std::move(weights)),
          {c.vocab_size, c.hidden_size, c.num_layers, c.layer_norm_epsilon, c.tie_word_embeddings}};
}

}  // namespace subq::ssm
