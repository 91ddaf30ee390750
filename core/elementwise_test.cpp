// The CPU's vectorised activations (core/vector_math.hpp, through activate) against core/math.hpp's
// scalar definitions: a few ulps apart, NaN and infinities kept, and the same bits wherever in
// memory the values lie (Eigen alone would take an unaligned head through another code path).
// softplus_span is checked through the selective scan's tests.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/elementwise.hpp"
#include "core/math.hpp"

using namespace subq;

namespace {

std::vector<float> test_values() {
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> u(-30, 30);
  std::vector<float> v(203);  // not a multiple of the blocks of 16
  for (float& x : v) x = u(rng);
  v[5] = std::numeric_limits<float>::quiet_NaN(), v[6] = INFINITY, v[7] = -INFINITY, v[8] = 0;
  return v;
}

Tensor tensor_of(const std::vector<float>& v, std::int64_t offset) {
  Tensor t = Tensor::zeros({std::int64_t(v.size()) + offset}, DType::F32);
  std::copy(v.begin(), v.end(), t.data<float>() + offset);
  return t.slice(0, offset, offset + std::int64_t(v.size()));
}

}  // namespace

TEST_CASE("activate: the vectorised activations agree with the scalar definitions", "[core][elementwise]") {
  const std::vector<float> v = test_values();
  for (const Activation f : {Activation::Sigmoid, Activation::Silu, Activation::NegExp, Activation::Rwkv7Decay,
                             Activation::Tanh, Activation::ReluSquare}) {
    const Tensor got = activate(tensor_of(v, 0).contiguous(), f);
    for (std::size_t i = 0; i < v.size(); ++i) {
      const float want = activation(f, v[i]), have = got.data<float>()[i];
      INFO("activation " << int(f) << " at " << v[i]);
      if (std::isnan(want)) {
        CHECK(std::isnan(have));
      } else if (std::isinf(want)) {
        CHECK(have == want);
      } else {
        CHECK(std::abs(have - want) <= 4 * std::numeric_limits<float>::epsilon() * std::abs(want) + 1e-30f);
      }
    }
  }
}

TEST_CASE("activate: the same bits at every address", "[core][elementwise]") {
  const std::vector<float> v = test_values();
  const Tensor aligned = activate(tensor_of(v, 0).contiguous(), Activation::Silu);
  for (const std::int64_t offset : {1, 3, 5}) {
    const Tensor shifted = activate(tensor_of(v, offset), Activation::Silu);
    for (std::size_t i = 0; i < v.size(); ++i) {
      const float a = aligned.data<float>()[i], b = shifted.data<float>()[i];
      CHECK((std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b))));
    }
  }
}

TEST_CASE("activate: GeluTanh is torch's gelu(approximate=\"tanh\")", "[core][elementwise]") {
  // torch documents 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); values of that formula in float64.
  const std::vector<float> x = {-3.0f, -0.5f, 0.0f, 1.0f, 2.5f};
  const std::vector<double> want = {-0.0036373920817729943, -0.15428599017485606, 0.0, 0.8411919906082768,
                                    2.484915733910001};
  const Tensor got = activate(Tensor::from_vector(x, {5}), Activation::GeluTanh);
  for (std::size_t i = 0; i < x.size(); ++i)
    CHECK(got.data<float>()[i] == Approx(want[i]).epsilon(1e-6).margin(2e-7));  // float32 cancels near -3
}
