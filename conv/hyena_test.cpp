#include <catch2/catch.hpp>

#include <random>

#include "conv/hyena.hpp"
#include "core/config.hpp"
#include "tests/source_dir.hpp"
#include "tests/testing.hpp"

using namespace subq;
using namespace subq::conv;
using subq::testing::max_rel_diff;
using subq::testing::random_tensor;

namespace {

HyenaOperator fixture_operator(int index, Device device = Device::cpu()) {
  const auto dir = source_dir() / ("tests/conformance/hyena/operator_" + std::to_string(index));
  const JsonConfig params = JsonConfig::load(dir / "meta.json").child("params");
  Checkpoint weights = Checkpoint::open_tensors(dir / "model.safetensors");
  weights.place_on(device);
  HyenaOperator op = HyenaOperator::load(weights, "", {params.get_int("order"), params.get_int("l_max")});
  weights.finish();
  return op;
}

}  // namespace

TEST_CASE("hyena: causal, and a prefix's outputs do not depend on the rest", "[conv][hyena]") {
  const HyenaOperator op = fixture_operator(1);  // order 3
  std::mt19937 rng(1);
  const Tensor u = random_tensor({1, 150, 16}, DType::F64, rng, -1, 1);
  const Tensor y = op.forward(u);
  Tensor changed = u.clone();
  for (std::int64_t i = 100 * 16; i < changed.numel(); ++i) changed.data<double>()[i] += 1.0;  // alter t >= 100
  const Tensor y2 = op.forward(changed);
  CHECK(max_rel_diff(y2.slice(1, 0, 100), y.slice(1, 0, 100)) < 1e-12);
  CHECK(max_rel_diff(y2.slice(1, 100, 150), y.slice(1, 100, 150)) > 1e-3);
  // The first 60 outputs of the whole sequence are the outputs of its first 60 steps.
  CHECK(max_rel_diff(op.forward(u.slice(1, 0, 60).contiguous()), y.slice(1, 0, 60)) < 1e-12);
}

TEST_CASE("hyena: float32 inputs run in float32 close to float64", "[conv][hyena]") {
  const HyenaOperator op = fixture_operator(1);
  std::mt19937 rng(2);
  const Tensor u = random_tensor({2, 200, 16}, DType::F64, rng, -1, 1);
  const Tensor y32 = op.forward(u.to(DType::F32));
  CHECK(y32.dtype() == DType::F32);
  CHECK(max_rel_diff(y32.to(DType::F64), op.forward(u)) < 1e-5);
}

TEST_CASE("hyena: filters and bad inputs", "[conv][hyena]") {
  const HyenaOperator op = fixture_operator(0);  // order 2, d_model 32, l_max 128
  CHECK(op.filters(7).shape() == Shape{1, 32, 7});
  CHECK_THROWS_WITH(op.filters(129), Catch::Contains("length 129 outside [1, l_max = 128]"));
  CHECK_THROWS_WITH(op.forward(Tensor::zeros({1, 5, 16}, DType::F32)), Catch::Contains("u: expected (batch, length, 32)"));
  // The S4 fixture's weights: no Hyena operator in them.
  Checkpoint s4 = Checkpoint::open_tensors(source_dir() / "tests/conformance/s4/block_0/model.safetensors");
  CHECK_THROWS_WITH(HyenaOperator::load(s4, "", {}), Catch::Contains("tensor 'out_proj.weight' is missing"));
  // Sizes for a generated checkpoint must all be given.
  Checkpoint generated = Checkpoint::generated(
      JsonConfig::parse("{}", "test"),
      [](const std::string&, const Shape& shape, TensorRole) { return Tensor::zeros(shape, DType::F32); });
  HyenaOperator::Options partial;
  partial.d_model = 8;
  CHECK_THROWS_WITH(HyenaOperator::load(generated, "", partial), Catch::Contains("must all be > 0"));
}

TEST_CASE("hyena: the operator on CUDA gives the CPU's filters and outputs", "[conv][hyena][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  for (const int index : {0, 1}) {  // order 2 and 3
    const HyenaOperator cpu = fixture_operator(index), gpu = fixture_operator(index, Device::cuda());
    std::mt19937 rng(index);
    for (const std::int64_t L : {1, 37, 128}) {
      INFO("operator " << index << " length " << L);
      const Tensor k = gpu.filters(L);
      REQUIRE(k.device().is_cuda());
      CHECK(max_rel_diff(k, cpu.filters(L)) < 1e-12);
      const Tensor u = random_tensor({2, L, 16 * (2 - index)}, DType::F32, rng, -1, 1);
      const Tensor y = gpu.forward(u.to(Device::cuda()));
      REQUIRE(y.device().is_cuda());
      CHECK(max_rel_diff(y, cpu.forward(u)) < 1e-5);
    }
    CHECK_THROWS_WITH(gpu.forward(Tensor::zeros({1, 5, 16 * (2 - index)}, DType::F32)),
                      Catch::Contains("u is on cpu, the operator's weights on cuda:0"));
  }
}
