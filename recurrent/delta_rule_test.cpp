// DeltaNet's and Gated DeltaNet's delta rule: the WKV-7 forms against the recurrent
// specification, the rule itself on a hand-checked step, bad operands and long inputs.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "recurrent/delta_rule.hpp"
#include "tests/testing.hpp"

using namespace subq;
using namespace subq::recurrent;
using subq::testing::max_rel_diff;
using subq::testing::non_finite_count;
using subq::testing::random_tensor;

namespace {

struct RuleInputs {
  Tensor q, k, v, beta;
};

// q, k uniform in (-qk, qk), v in (-1, 1), beta in (0, 1), over 2 heads, drawn in that order.
RuleInputs random_rule(std::int64_t B, std::int64_t L, std::int64_t dk, std::int64_t dv, std::mt19937 &rng,
                       DType dtype = DType::F64, double qk = 1) {
  return {random_tensor({B, L, 2, dk}, dtype, rng, -qk, qk), random_tensor({B, L, 2, dk}, dtype, rng, -qk, qk),
          random_tensor({B, L, 2, dv}, dtype, rng, -1, 1), random_tensor({B, L, 2}, dtype, rng, 0, 1)};
}

}  // namespace

TEST_CASE("delta rule: the WKV-7 forms equal the recurrent form for L = 1..300, gated and not",
          "[recurrent][delta_rule]") {
  std::mt19937 rng(1);
  for (std::int64_t L = 1; L <= 300; ++L) {
    const RuleInputs in = random_rule(1, L, 4, 3, rng);
    const Tensor &q = in.q, &k = in.k, &v = in.v, &beta = in.beta;
    DeltaRuleOptions options;
    options.scale = 0.5;
    options.l2_normalize = true;  // unnormalised keys make I - beta k k^T expand the state: tested below, short
    options.initial_state = random_tensor({1, 2, 4, 3}, DType::F64, rng, -1, 1);
    if (L % 2) options.g = random_tensor({1, L, 2}, DType::F64, rng, -1, 0);
    const DeltaRuleResult want = delta_rule_recurrent(q, k, v, beta, options);
    for (const std::int64_t chunk : {0, 16, 64, 100}) {  // 0: WKV-7's stepped form
      options.chunk_length = chunk;
      const DeltaRuleResult got = delta_rule(q, k, v, beta, options);
      INFO("L " << L << " chunk " << chunk << " gated " << options.g.defined());
      CHECK(max_rel_diff(got.o, want.o) < 1e-10);
      CHECK(max_rel_diff(got.final_state, want.final_state) < 1e-10);
    }
  }
}

TEST_CASE("delta rule: without the L2 norm the forms agree too", "[recurrent][delta_rule]") {
  std::mt19937 rng(2);
  for (const std::int64_t L : {1, 20, 70}) {
    const RuleInputs in = random_rule(2, L, 4, 5, rng, DType::F64, 0.5);
    const Tensor &q = in.q, &k = in.k, &v = in.v, &beta = in.beta;
    DeltaRuleOptions options;
    const DeltaRuleResult want = delta_rule_recurrent(q, k, v, beta, options);
    options.chunk_length = 16;
    const DeltaRuleResult got = delta_rule(q, k, v, beta, options);
    CHECK(max_rel_diff(got.o, want.o) < 1e-10);
    CHECK(max_rel_diff(got.final_state, want.final_state) < 1e-10);
  }
}

TEST_CASE("delta rule: one step writes beta (v - k S) along k", "[recurrent][delta_rule]") {
  // d_k = 1, d_v = 1: S' = exp(g) S0, u = beta (v - k S'), S = S' + k u, o = scale q S.
  const auto scalar = [](double x, const Shape& shape) { return Tensor::from_vector<double>({x}, shape); };
  DeltaRuleOptions options;
  options.scale = 0.5;
  options.g = scalar(std::log(0.5), {1, 1, 1});
  options.initial_state = scalar(4.0, {1, 1, 1, 1});
  const DeltaRuleResult r = delta_rule(scalar(3.0, {1, 1, 1, 1}), scalar(2.0, {1, 1, 1, 1}), scalar(1.0, {1, 1, 1, 1}),
                                       scalar(0.25, {1, 1, 1}), options);
  const double decayed = 2.0, u = 0.25 * (1.0 - 2.0 * decayed), state = decayed + 2.0 * u;
  CHECK(r.final_state.data<double>()[0] == Approx(state).epsilon(1e-14));
  CHECK(r.o.data<double>()[0] == Approx(0.5 * 3.0 * state).epsilon(1e-14));
}

TEST_CASE("delta rule: bad operands are named", "[recurrent][delta_rule]") {
  const Tensor q = Tensor::zeros({1, 3, 2, 4}, DType::F64), v = Tensor::zeros({1, 3, 2, 5}, DType::F64);
  CHECK_THROWS_WITH(delta_rule(q, q, v, Tensor::zeros({1, 3, 1}, DType::F64)),
                    Catch::Contains("delta_rule: beta: expected shape"));
  DeltaRuleOptions options;
  options.g = Tensor::zeros({1, 3, 2}, DType::F32);
  CHECK_THROWS_WITH(delta_rule(q, q, v, Tensor::zeros({1, 3, 2}, DType::F64), options),
                    Catch::Contains("delta_rule: g: expected float64 (q's dtype), found float32"));
}

TEST_CASE("delta rules stay finite over 100K steps in float32, gated and not", "[recurrent][delta_rule][long]") {
  std::mt19937 rng(3);
  const std::int64_t L = 100000;
  const RuleInputs in = random_rule(1, L, 16, 16, rng, DType::F32);
  const Tensor &q = in.q, &k = in.k, &v = in.v, &beta = in.beta;
  DeltaRuleOptions options;
  options.scale = 0.25;
  options.l2_normalize = true;
  for (const bool gated : {false, true}) {
    options.g = gated ? random_tensor({1, L, 2}, DType::F32, rng, -0.1, 0) : Tensor{};
    const DeltaRuleResult r = delta_rule(q, k, v, beta, options);
    CHECK(non_finite_count(r.o) == 0);
  }
}

TEST_CASE("delta rule: CUDA equals the CPU, gated and not", "[recurrent][delta_rule][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(4);
  const auto gpu = [](const Tensor& t) { return t.to(Device::cuda()); };
  for (const std::int64_t L : {1, 40, 130}) {
    const RuleInputs in = random_rule(2, L, 8, 5, rng, DType::F32);
    const Tensor &q = in.q, &k = in.k, &v = in.v, &beta = in.beta;
    for (const bool gated : {false, true}) {
      INFO("L " << L << " gated " << gated);
      DeltaRuleOptions options;
      options.scale = 0.35;
      options.l2_normalize = true;
      options.initial_state = random_tensor({2, 2, 8, 5}, DType::F32, rng, -1, 1);
      if (gated) options.g = random_tensor({2, L, 2}, DType::F32, rng, -1, 0);
      const DeltaRuleResult want = delta_rule(q, k, v, beta, options);
      options.initial_state = gpu(options.initial_state);
      if (gated) options.g = gpu(options.g);
      const DeltaRuleResult got = delta_rule(gpu(q), gpu(k), gpu(v), gpu(beta), options);
      REQUIRE(got.o.device().is_cuda());
      CHECK(max_rel_diff(got.o, want.o) < 1e-4);
      CHECK(max_rel_diff(got.final_state, want.final_state) < 1e-4);
    }
  }
}
