// Griffin's RG-LRU: the scanned form against the step-by-step specification, resets, and bad
// operands.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "recurrent/rglru.hpp"
#include "tests/testing.hpp"

using namespace subq;
using namespace subq::recurrent;
using subq::testing::max_rel_diff;
using subq::testing::non_finite_count;
using subq::testing::random_tensor;

namespace {

RgLru random_layer(std::int64_t width, std::int64_t heads, std::mt19937& rng, DType dtype = DType::F64) {
  const std::int64_t block = width / heads;
  return {random_tensor({width}, dtype, rng, -2, 2), random_tensor({heads, block, block}, dtype, rng, -0.5, 0.5),
          random_tensor({heads, block}, dtype, rng, -0.5, 0.5),
          random_tensor({heads, block, block}, dtype, rng, -0.5, 0.5),
          random_tensor({heads, block}, dtype, rng, -0.5, 0.5)};
}

Tensor positions(std::int64_t B, std::int64_t L, std::int64_t reset_every) {
  Tensor pos = Tensor::empty({B, L}, DType::I64);
  for (std::int64_t i = 0; i < B * L; ++i) pos.data<std::int64_t>()[i] = (i % L) % reset_every;
  return pos;
}

}  // namespace

TEST_CASE("rglru: the scanned form equals the recurrent form for L = 1..300, with and without resets",
          "[recurrent][rglru]") {
  std::mt19937 rng(1);
  const RgLru layer = random_layer(12, 3, rng);
  for (std::int64_t L = 1; L <= 300; ++L) {
    const std::int64_t reset_every = L % 2 ? 0 : 7;
    const Tensor x = random_tensor({2, L, 12}, DType::F64, rng, -2, 2),
                 h0 = random_tensor({2, 12}, DType::F64, rng, -1, 1);
    const Tensor pos = reset_every ? positions(2, L, reset_every) : Tensor{};
    INFO("L " << L << " reset every " << reset_every);
    const RgLruResult want = rglru_recurrent(layer, x, pos, h0), got = rglru(layer, x, pos, h0);
    CHECK(max_rel_diff(got.y, want.y) < 1e-10);
    CHECK(max_rel_diff(got.last_h, want.last_h) < 1e-10);
  }
}

TEST_CASE("rglru stays finite over 100K steps in float32", "[recurrent][rglru][long]") {
  std::mt19937 rng(5);
  const RgLru layer = random_layer(16, 4, rng, DType::F32);
  const RgLruResult r = rglru(layer, random_tensor({1, 100000, 16}, DType::F32, rng, -3, 3));
  CHECK(non_finite_count(r.y) == 0);
}

TEST_CASE("rglru: a reset forgets the state before it", "[recurrent][rglru]") {
  std::mt19937 rng(2);
  const RgLru layer = random_layer(8, 2, rng);
  const Tensor x = random_tensor({1, 10, 8}, DType::F64, rng, -1, 1);
  const Tensor pos = positions(1, 10, 5);  // 0..4, 0..4: a new segment at t = 5
  const RgLruResult whole = rglru(layer, x, pos, random_tensor({1, 8}, DType::F64, rng, -1, 1));
  const RgLruResult second = rglru(layer, x.slice(1, 5, 10).contiguous(), positions(1, 5, 5));
  CHECK(max_rel_diff(whole.y.slice(1, 5, 10), second.y) < 1e-14);
}

TEST_CASE("rglru: bad operands are named", "[recurrent][rglru]") {
  std::mt19937 rng(3);
  const RgLru layer = random_layer(8, 2, rng);
  CHECK_THROWS_WITH(rglru(layer, Tensor::zeros({1, 3, 6}, DType::F64)),
                    Catch::Contains("rglru: x: expected (batch, length, 8)"));
  CHECK_THROWS_WITH(rglru(layer, Tensor::zeros({1, 3, 8}, DType::F64), Tensor::zeros({1, 3}, DType::F64)),
                    Catch::Contains("rglru: segment_pos: expected int64"));
  CHECK_THROWS_WITH(rglru(layer, Tensor::zeros({1, 3, 8}, DType::F32)),
                    Catch::Contains("rglru: a_param: expected float32"));
}

TEST_CASE("rglru: CUDA equals the CPU, with resets", "[recurrent][rglru][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(4);
  const auto gpu = [](const Tensor& t) { return t.to(Device::cuda()); };
  const RgLru layer = random_layer(12, 3, rng, DType::F32);
  const RgLru on_gpu{gpu(layer.a_param), gpu(layer.input_gate_w), gpu(layer.input_gate_b), gpu(layer.a_gate_w),
                     gpu(layer.a_gate_b)};
  for (const std::int64_t L : {1, 33, 140}) {
    INFO("L " << L);
    const Tensor x = random_tensor({2, L, 12}, DType::F32, rng, -2, 2),
                 h0 = random_tensor({2, 12}, DType::F32, rng, -1, 1);
    const Tensor pos = positions(2, L, 9);
    const RgLruResult want = rglru(layer, x, pos, h0), got = rglru(on_gpu, gpu(x), gpu(pos), gpu(h0));
    REQUIRE(got.y.device().is_cuda());
    CHECK(max_rel_diff(got.y, want.y) < 1e-5);
    CHECK(max_rel_diff(got.last_h, want.last_h) < 1e-5);
  }
}
