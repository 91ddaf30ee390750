#include "ssm/mamba.hpp"

#include <cmath>
#include <vector>

#include "conv/causal_conv1d.hpp"
#include "core/check.hpp"
#include "core/checkpoint.hpp"
#include "core/dense.hpp"
#include "ssm/backbone.hpp"
#include "ssm/selective_scan.hpp"

namespace subq::ssm {

namespace {

MambaConfig read_config(const JsonConfig& c) {
  const std::string type = c.get_string("model_type", "mamba");
  SUBQ_CHECK(type == "mamba", "{}: model_type '{}': expected 'mamba'", c.source(), type);
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
  auto take = [&](const std::string& name, const Shape& shape) { return ck.take(layer_tensor(layer, "mixer." + name), shape); };
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

}  // namespace

struct MambaModel::Impl {
  MambaConfig config;
  Backbone backbone;
  std::vector<MixerWeights> mixers;

  // h (batch, length, hidden) -> (batch, length, hidden); reads and refills the cache's layer.
  Tensor mix(int layer, const Tensor& h, SsmCache* cache) const {
    const MixerWeights& w = mixers[std::size_t(layer)];
    const std::int64_t I = config.intermediate_size, N = config.state_size, R = config.time_step_rank;
    const Tensor xz = linear(h, w.in_proj, w.in_proj_bias);
    const Tensor conv_state = cache ? cache->conv[std::size_t(layer)] : Tensor{};
    const conv::CausalConv1dResult conv = conv::causal_conv1d(xz.slice(2, 0, I).transpose(1, 2), w.conv, w.conv_bias,
                                                              conv::Activation::Silu, conv_state);
    const Tensor x_dbl = linear(conv.out.transpose(1, 2), w.x_proj);  // (batch, length, R + 2N)
    SelectiveScanOptions options;
    options.D = w.D;
    options.z = xz.slice(2, I, 2 * I).transpose(1, 2);
    options.delta_bias = w.dt_bias;
    options.delta_softplus = true;
    if (cache) options.initial_state = cache->ssm[std::size_t(layer)];
    const SelectiveScanResult scan =
        selective_scan(conv.out, linear(x_dbl.slice(2, 0, R), w.dt_proj).transpose(1, 2), w.A,
                       x_dbl.slice(2, R, R + N).transpose(1, 2), x_dbl.slice(2, R + N, R + 2 * N).transpose(1, 2), options);
    if (cache) {
      cache->conv[std::size_t(layer)] = conv.final_state;
      cache->ssm[std::size_t(layer)] = scan.last_state;
    }
    return linear(scan.out.transpose(1, 2), w.out_proj, w.out_proj_bias);
  }
};

MambaModel::MambaModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MambaModel::~MambaModel() = default;
MambaModel::MambaModel(MambaModel&&) noexcept = default;
MambaModel& MambaModel::operator=(MambaModel&&) noexcept = default;

MambaModel MambaModel::load(const std::filesystem::path& dir) {
  Checkpoint ck = Checkpoint::open(dir);
  auto impl = std::make_unique<Impl>();
  impl->config = read_config(ck.config());
  const MambaConfig& c = impl->config;
  impl->backbone = Backbone::load(ck, {c.vocab_size, c.hidden_size, c.num_layers, c.layer_norm_epsilon, c.tie_word_embeddings});
  for (int i = 0; i < c.num_layers; ++i) impl->mixers.push_back(load_mixer(ck, c, i));
  ck.finish();
  return MambaModel(std::move(impl));
}

const MambaConfig& MambaModel::config() const { return impl_->config; }

Tensor MambaModel::forward(const Tensor& input_ids, SsmCache* cache) const {
  if (cache && cache->empty()) {
    cache->conv.resize(std::size_t(impl_->config.num_layers));
    cache->ssm.resize(std::size_t(impl_->config.num_layers));
  }
  return impl_->backbone.forward(input_ids, [&](int layer, const Tensor& h) { return impl_->mix(layer, h, cache); });
}

Tensor MambaModel::step(const Tensor& input_ids, SsmCache& cache) const {
  SUBQ_CHECK(input_ids.defined() && input_ids.dim() == 1, "MambaModel::step: input_ids: expected (batch), found {}",
             input_ids.defined() ? to_string(input_ids.shape()) : "nothing");
  const std::int64_t batch = input_ids.size(0);
  return forward(input_ids.contiguous().view({batch, 1}), &cache).view({batch, impl_->config.vocab_size});
}

}  // namespace subq::ssm
