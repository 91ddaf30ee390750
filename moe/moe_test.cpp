// The mixture of experts against routing each token through its top-k experts one by one.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "core/dense.hpp"
#include "moe/moe.hpp"
#include "tests/testing.hpp"

using namespace subq;
using namespace subq::moe;
using subq::testing::max_rel_diff;
using subq::testing::random_tensor;

TEST_CASE("mixture of experts: equals routing every token through its top-k experts", "[moe]") {
  std::mt19937 rng(3);
  const std::int64_t T = 37, H = 6, F = 10, E = 5;
  const Tensor x = random_tensor({1, T, H}, DType::F32, rng, -1, 1),
               router = random_tensor({E, H}, DType::F32, rng, -1, 1);
  std::vector<SwiGlu> experts;
  for (std::int64_t e = 0; e < E; ++e)
    experts.push_back({random_tensor({F, H}, DType::F32, rng, -1, 1), random_tensor({F, H}, DType::F32, rng, -1, 1),
                       random_tensor({H, F}, DType::F32, rng, -1, 1)});
  const Tensor got = mixture_of_experts(x, router, experts, 2);
  for (std::int64_t t = 0; t < T; ++t) {
    const Tensor token = x.select(1, t).contiguous();  // (1, H)
    std::vector<std::pair<double, std::int64_t>> p;
    double total = 0;
    for (std::int64_t e = 0; e < E; ++e) {
      double logit = 0;
      for (std::int64_t i = 0; i < H; ++i) logit += double(router.data<float>()[e * H + i]) * token.data<float>()[i];
      p.push_back({std::exp(logit), e});
      total += p.back().first;
    }
    std::stable_sort(p.begin(), p.end(), [](auto a, auto b) { return a.first > b.first; });
    std::vector<double> want(static_cast<std::size_t>(H), 0.0);
    for (int j = 0; j < 2; ++j) {
      const Tensor y = swiglu(token, experts[std::size_t(p[j].second)]);
      for (std::int64_t i = 0; i < H; ++i) want[i] += p[j].first / total * y.data<float>()[i];
    }
    for (std::int64_t i = 0; i < H; ++i)
      CHECK(got.data<float>()[t * H + i] == Approx(want[i]).epsilon(1e-4).margin(1e-5));
  }
}

TEST_CASE("mixture of experts: equal probabilities go to the lower-indexed experts", "[moe]") {
  std::mt19937 rng(6);
  const std::int64_t T = 5, H = 4, F = 6, E = 4;
  const Tensor x = random_tensor({T, H}, DType::F32, rng, -1, 1);
  std::vector<SwiGlu> experts;
  for (std::int64_t e = 0; e < E; ++e)
    experts.push_back({random_tensor({F, H}, DType::F32, rng, -1, 1), random_tensor({F, H}, DType::F32, rng, -1, 1),
                       random_tensor({H, F}, DType::F32, rng, -1, 1)});
  // A zero router gives every expert p = 1/4: experts 0 and 1 take each token.
  const Tensor got = mixture_of_experts(x, Tensor::zeros({E, H}, DType::F32), experts, 2);
  const Tensor y0 = swiglu(x, experts[0]), y1 = swiglu(x, experts[1]);
  for (std::int64_t i = 0; i < T * H; ++i)
    CHECK(got.data<float>()[i] == Approx(0.25 * y0.data<float>()[i] + 0.25 * y1.data<float>()[i]).margin(1e-6));
}

TEST_CASE("mixture of experts: a bad top_k or router is named", "[moe]") {
  std::mt19937 rng(8);
  const std::int64_t H = 4, F = 6;
  const Tensor x = random_tensor({3, H}, DType::F32, rng, -1, 1);
  const std::vector<SwiGlu> experts(
      3, SwiGlu{random_tensor({F, H}, DType::F32, rng, -1, 1), random_tensor({F, H}, DType::F32, rng, -1, 1),
                random_tensor({H, F}, DType::F32, rng, -1, 1)});
  const Tensor router = random_tensor({3, H}, DType::F32, rng, -1, 1);
  CHECK_THROWS_WITH(mixture_of_experts(x, router, experts, 0),
                    Catch::Contains("mixture_of_experts: top_k 0 of 3 experts"));
  CHECK_THROWS_WITH(mixture_of_experts(x, router, experts, 4),
                    Catch::Contains("mixture_of_experts: top_k 4 of 3 experts"));
  CHECK_THROWS_WITH(mixture_of_experts(x, Tensor::zeros({2, H}, DType::F32), experts, 2),
                    Catch::Contains("mixture_of_experts: router"));
}

TEST_CASE("mixture of experts: CUDA equals the CPU", "[moe][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(7);
  const std::int64_t T = 41, H = 12, F = 20, E = 6;
  auto gpu = [](const Tensor& t) { return t.to(Device::cuda()); };
  const Tensor x = random_tensor({1, T, H}, DType::F32, rng, -1, 1),
               router = random_tensor({E, H}, DType::F32, rng, -1, 1);
  std::vector<SwiGlu> experts, experts_gpu;
  for (std::int64_t e = 0; e < E; ++e) {
    experts.push_back({random_tensor({F, H}, DType::F32, rng, -1, 1), random_tensor({F, H}, DType::F32, rng, -1, 1),
                       random_tensor({H, F}, DType::F32, rng, -1, 1)});
    experts_gpu.push_back({gpu(experts.back().gate), gpu(experts.back().up), gpu(experts.back().down)});
  }
  CHECK(max_rel_diff(swiglu(gpu(x), experts_gpu[0]), swiglu(x, experts[0])) < 1e-5);
  for (const int top_k : {1, 2, 6}) {
    INFO("top_k " << top_k);
    const Tensor got = mixture_of_experts(gpu(x), gpu(router), experts_gpu, top_k);
    REQUIRE(got.device().is_cuda());
    CHECK(max_rel_diff(got, mixture_of_experts(x, router, experts, top_k)) < 1e-5);
  }
  CHECK_THROWS_WITH(mixture_of_experts(gpu(x), router, experts_gpu, 2),
                    Catch::Contains("mixture_of_experts: router is on cpu, the input on cuda:0"));
}
