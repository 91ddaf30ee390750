#pragma once
// A Hyena operator with random weights at a given width, for the benchmarks: safari's shapes
// (order 2, positional embedding of 3, filter MLP of width 64 with two sine stages), through the
// loader of real checkpoints, on a device.
#include <cmath>
#include <random>
#include <string>

#include "conv/hyena.hpp"
#include "core/checkpoint.hpp"

namespace subq::bench {

inline conv::HyenaOperator random_hyena(std::int64_t d_model, std::int64_t l_max, Device device = Device::cpu()) {
  std::mt19937 rng(7);
  Checkpoint weights = Checkpoint::generated(
      JsonConfig::parse("{}", "random Hyena"), [&](const std::string& name, const Shape& shape, TensorRole) {
        // Weights scaled by their fan-in; positions t in [0, 1).
        const double bound = shape.size() == 2 ? 1 / std::sqrt(double(shape[1])) : 0.5;
        std::uniform_real_distribution<float> u(float(-bound), float(bound));
        Tensor t = Tensor::empty(shape, DType::F32);
        for (std::int64_t i = 0; i < t.numel(); ++i)
          t.data<float>()[i] = name == "filter_fn.pos_emb.t" ? float(i) / float(t.numel()) : u(rng);
        return t;
      });
  weights.place_on(device);
  conv::HyenaOperator::Options options;
  options.order = 2, options.l_max = l_max, options.d_model = d_model, options.emb_dim = 3, options.filter_width = 64,
  options.sine_stages = 2;
  return conv::HyenaOperator::load(weights, "", options);
}

}  // namespace subq::bench
