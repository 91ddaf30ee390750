#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "hybrid/attention.hpp"
#include "hybrid/moe.hpp"
#include "tests/testing.hpp"

using namespace subq;
using namespace subq::hybrid;
using subq::testing::max_rel_diff;
using subq::testing::random_tensor;

TEST_CASE("attention: the tiled online softmax equals the plain definition", "[hybrid][attention]") {
  std::mt19937 rng(1);
  // Lengths around the 32-query and 64-key tiles, with and without cached keys, grouped heads.
  for (const std::int64_t L : {1, 7, 32, 33, 100})
    for (const std::int64_t past : {0, 5, 64})
      for (const std::int64_t kv_heads : {1, 2, 4}) {
        const Tensor q = random_tensor({2, L, 4, 8}, DType::F32, rng, -2, 2);
        const Tensor k = random_tensor({2, past + L, kv_heads, 8}, DType::F32, rng, -2, 2);
        const Tensor v = random_tensor({2, past + L, kv_heads, 8}, DType::F32, rng, -1, 1);
        INFO("L " << L << " past " << past << " kv_heads " << kv_heads);
        CHECK(max_rel_diff(causal_attention(q, k, v, 0.35), causal_attention_reference(q, k, v, 0.35)) < 1e-5);
      }
}

TEST_CASE("attention: large scores do not overflow", "[hybrid][attention]") {
  std::mt19937 rng(2);
  const Tensor q = random_tensor({1, 200, 2, 16}, DType::F32, rng, -50, 50), k = random_tensor({1, 200, 2, 16}, DType::F32, rng, -50, 50),
               v = random_tensor({1, 200, 2, 16}, DType::F32, rng, -1, 1);
  const Tensor o = causal_attention(q, k, v, 1.0);
  int bad = 0;
  for (std::int64_t i = 0; i < o.numel(); ++i) bad += !std::isfinite(o.data<float>()[i]);
  CHECK(bad == 0);
  CHECK(max_rel_diff(o, causal_attention_reference(q, k, v, 1.0)) < 1e-4);
}

TEST_CASE("attention: bad shapes name the tensor", "[hybrid][attention]") {
  const Tensor q = Tensor::zeros({1, 4, 4, 8}, DType::F32);
  CHECK_THROWS_WITH(causal_attention(q, Tensor::zeros({1, 4, 3, 8}, DType::F32), Tensor::zeros({1, 4, 3, 8}, DType::F32), 1),
                    Catch::Contains("3 kv heads do not divide 4 heads"));
  CHECK_THROWS_WITH(causal_attention(q, Tensor::zeros({1, 3, 2, 8}, DType::F32), Tensor::zeros({1, 3, 2, 8}, DType::F32), 1),
                    Catch::Contains("k: expected (1, keys >= 4, kv_heads, 8)"));
}

TEST_CASE("mixture of experts: equals routing every token through its top-k experts", "[hybrid][moe]") {
  std::mt19937 rng(3);
  const std::int64_t T = 37, H = 6, F = 10, E = 5;
  const Tensor x = random_tensor({1, T, H}, DType::F32, rng, -1, 1), router = random_tensor({E, H}, DType::F32, rng, -1, 1);
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
    for (std::int64_t i = 0; i < H; ++i) CHECK(got.data<float>()[t * H + i] == Approx(want[i]).epsilon(1e-4).margin(1e-5));
  }
}
