#include "recurrent/griffin_mixer.hpp"

#include <vector>

#include "conv/causal_conv1d.hpp"
#include "core/check.hpp"
#include "core/dense.hpp"
#include "core/elementwise.hpp"

namespace subq::recurrent {

namespace {

enum Slot : std::size_t { kConvState, kLruState };

// Griffin's segment positions of a call's tokens, position .. position + length - 1 in every row.
// They matter only where they are 0 (the RG-LRU resets there), so a call that continues a stream
// (decoding, above all) needs none: undefined, no resets.
Tensor segment_positions(std::int64_t batch, std::int64_t length, std::int64_t position, Device device) {
  if (position > 0) return {};
  std::vector<std::int64_t> positions(static_cast<std::size_t>(batch * length));
  for (std::size_t i = 0; i < positions.size(); ++i) positions[i] = position + std::int64_t(i) % length;
  return Tensor::from_vector(positions, {batch, length}).to(device);
}

}  // namespace

GriffinMixer GriffinMixer::load(Checkpoint& ck, const std::string& prefix, const GriffinMixerConfig& c) {
  GriffinMixer m;
  m.config_ = c;
  const std::int64_t H = c.hidden, W = c.lru_width;
  auto matrix = [&](const std::string& name, const Shape& shape) { return ck.take_matrix(prefix + name, shape); };
  auto take = [&](const std::string& name, const Shape& shape) { return ck.take(prefix + name, shape); };
  m.x_ = matrix("linear_x.weight", {W, H});
  m.x_bias_ = take("linear_x.bias", {W});
  m.y_ = matrix("linear_y.weight", {W, H});
  m.y_bias_ = take("linear_y.bias", {W});
  m.out_ = matrix("linear_out.weight", {H, W});
  m.out_bias_ = take("linear_out.bias", {H});
  if (c.names == RgLruNames::Transformers) {
    m.conv_ = take("conv_1d.weight", {W, 1, c.conv_width}).view({W, c.conv_width});
    m.conv_bias_ = take("conv_1d.bias", {W});
  } else {
    // recurrentgemma's w[i] weighs the input i - (width - 1) steps back: the convolution's
    // (channels, width) taps, transposed.
    m.conv_ = take("conv_1d.w", {c.conv_width, W}).transpose(0, 1).contiguous();
    m.conv_bias_ = take("conv_1d.b", {W});
  }
  m.rg_lru_ = RgLru::load(ck, prefix + "rg_lru.", W, c.heads, c.names);
  return m;
}

Tensor GriffinMixer::forward(const Tensor& x, MixerState* state, MixerContext& context) const {
  const std::int64_t B = x.size(0), L = x.size(1);
  const Tensor y = activate(linear(x, y_, y_bias_), Activation::GeluTanh);
  const conv::CausalConv1dResult conv =
      conv::causal_conv1d(linear(x, x_, x_bias_).transpose(1, 2), conv_, conv_bias_, Activation::Identity,
                          state ? (*state)[kConvState] : Tensor{});
  const RgLruResult lru =
      rglru(rg_lru_, conv.out.transpose(1, 2).contiguous(), segment_positions(B, L, context.position, x.device()),
            state ? (*state)[kLruState] : Tensor{});
  if (state) (*state)[kConvState] = conv.final_state, (*state)[kLruState] = lru.last_h;
  return linear(multiply(lru.y, y), out_, out_bias_);
}

Tensor GriffinMixer::forward_packed(const Tensor& x, const Packing& packing, MixerContext&) const {
  const Tensor y = activate(linear(x, y_, y_bias_), Activation::GeluTanh);
  const Tensor u = conv::causal_conv1d_packed(linear(x, x_, x_bias_).transpose(1, 2), conv_, conv_bias_,
                                              Activation::Identity, packing);
  const RgLruResult lru = rglru(rg_lru_, u, packing.positions().to(x.device()));
  return linear(multiply(lru.y, y), out_, out_bias_);
}

std::unique_ptr<Mixer> make_griffin_mixer(Checkpoint& checkpoint, const MixerSite& site) {
  const JsonConfig& c = site.config;
  const GriffinMixerConfig config{site.hidden, c.get_int("griffin_lru_width", site.hidden),
                                  c.get_int("griffin_num_heads", c.get_int("num_attention_heads")),
                                  c.get_int("griffin_conv1d_width", 4)};
  SUBQ_CHECK(config.heads >= 1 && config.lru_width % config.heads == 0 && config.conv_width >= 1,
             "{}: griffin_num_heads {} must divide griffin_lru_width {}; griffin_conv1d_width {} must be >= 1",
             c.source(), config.heads, config.lru_width, config.conv_width);
  return std::make_unique<GriffinMixer>(GriffinMixer::load(checkpoint, site.prefix, config));
}

}  // namespace subq::recurrent
