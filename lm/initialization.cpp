#include "lm/initialization.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>

namespace subq::lm {

namespace {

// The usual initialisation of these architectures: norms at one (by their role), and by tensor
// name D and xLSTM's learnable_skip at one, biases at zero, A_log = log(1 .. N) (S4D-real), dt biases the inverse
// softplus of dt log-uniform in [1e-3, 1e-1], Griffin's RG-LRU decays a on a ring of radii [0.9, 0.999]; Hyena's as
// safari's: positions t in [0, 1), sine frequencies 1, decay rates spread over [3, 15], a unit-scale positional
// embedding; S4D-Lin for S4 (A = -1/2 + i pi n, B = 1, C of unit scale, dt as Mamba's); every other weight normal with
// standard deviation 0.02.
Tensor initial_value(const std::string& name, const Shape& shape, TensorRole role, std::mt19937_64& rng) {
  auto ends = [&](const char* suffix) {
    const std::string s(suffix);
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  Tensor t = Tensor::empty(shape, DType::F32);
  float* p = t.data<float>();
  const std::int64_t n = t.numel(), last = shape.empty() ? 1 : shape.back();
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::uniform_real_distribution<double> log_dt(std::log(1e-3), std::log(1e-1));
  std::uniform_real_distribution<double> ring(0.9 * 0.9 + 1e-8, 0.999 * 0.999 + 1e-8);
  for (std::int64_t i = 0; i < n; ++i) {
    if (role == TensorRole::NormScale || ends(".D") || ends("learnable_skip"))
      p[i] = 1.0f;
    else if (ends("pos_emb.t"))
      p[i] = float(i) / float(n);
    else if (ends(".freq"))
      p[i] = 1.0f;
    else if (ends("modulation.deltas"))
      p[i] = -float(3.0 + 12.0 * double(i) / double(std::max<std::int64_t>(n - 1, 1)));
    else if (ends("kernel.A_real"))
      p[i] = float(std::log(0.5));
    else if (ends("kernel.A_imag"))
      p[i] = float(M_PI * double(i % last));
    else if (ends("kernel.inv_dt"))
      p[i] = float(log_dt(rng));
    else if (ends("kernel.B"))
      p[i] = i % 2 == 0 ? 1.0f : 0.0f;  // (real, imaginary) pairs
    else if (ends("kernel.C"))
      p[i] = 35.0f * normal(rng);
    else if (ends("pos_emb.z"))
      p[i] = 50.0f * normal(rng);
    else if (ends("rg_lru.a_param") || ends("rg_lru.recurrent_param"))  // Griffin's: a^2 uniform in [0.9^2, 0.999^2]
      p[i] = float(std::log(std::exp(-0.5 * std::log(ring(rng))) - 1.0));
    else if (ends("A_log"))
      p[i] = float(std::log(double(i % last + 1)));
    else if (ends("dt_proj.bias") || ends("dt_bias")) {
      const double dt = std::exp(log_dt(rng));
      p[i] = float(dt + std::log(-std::expm1(-dt)));
    } else if (ends(".bias"))
      p[i] = 0.0f;
    else
      p[i] = normal(rng);
  }
  return t;
}

}  // namespace

Checkpoint::Generator initial_weights(std::uint64_t seed) {
  auto rng = std::make_shared<std::mt19937_64>(seed);
  return [rng](const std::string& name, const Shape& shape, TensorRole role) {
    return initial_value(name, shape, role, *rng);
  };
}

}  // namespace subq::lm
