// Linear attention, BASED and GLA: the fast forms (through SSD and WKV-6) against their recurrent
// specifications, bad operands, and long inputs.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "recurrent/based.hpp"
#include "recurrent/gla.hpp"
#include "recurrent/linear_attention.hpp"
#include "tests/testing.hpp"

using namespace subq;
using namespace subq::recurrent;
using subq::testing::max_rel_diff;
using subq::testing::non_finite_count;
using subq::testing::random_tensor;

namespace {

struct Qkv {
  Tensor q, k, v;
};

Qkv random_qkv(std::int64_t L, std::int64_t dk, std::int64_t dv, std::mt19937& rng, DType dtype = DType::F64) {
  return {random_tensor({1, L, 2, dk}, dtype, rng, -1, 1), random_tensor({1, L, 2, dk}, dtype, rng, -1, 1),
          random_tensor({1, L, 2, dv}, dtype, rng, -1, 1)};
}

}  // namespace

TEST_CASE("linear attention: the chunked form equals the recurrent form for L = 1..300", "[recurrent][linear_attn]") {
  std::mt19937 rng(1);
  for (std::int64_t L = 1; L <= 300; ++L) {
    const Qkv p = random_qkv(L, 4, 3, rng);
    LinearAttentionOptions options;
    options.feature_map = L % 2 ? FeatureMap::Elu1 : FeatureMap::Identity;
    options.normalize = options.feature_map == FeatureMap::Elu1;  // identity's normaliser can cross zero
    options.scale = 0.5;
    options.initial_state = random_tensor({1, 2, 4, 3}, DType::F64, rng, -1, 1);
    if (options.normalize) options.initial_normalizer = random_tensor({1, 2, 4}, DType::F64, rng, 0, 1);
    const LinearAttentionResult want = linear_attention_recurrent(p.q, p.k, p.v, options);
    for (const std::int64_t chunk : {16, 64, 100}) {
      options.chunk_length = chunk;
      const LinearAttentionResult got = linear_attention(p.q, p.k, p.v, options);
      INFO("L " << L << " chunk " << chunk);
      CHECK(max_rel_diff(got.o, want.o) < 1e-10);
      CHECK(max_rel_diff(got.final_state, want.final_state) < 1e-10);
      if (options.normalize) CHECK(max_rel_diff(got.final_normalizer, want.final_normalizer) < 1e-10);
    }
  }
}

TEST_CASE("linear attention: the normaliser divides by scale phi(q) . z + epsilon", "[recurrent][linear_attn]") {
  // One step from zero: S = phi(k)^T v and z = phi(k), so o = v (phi(q).phi(k) s) / (phi(q).phi(k) s + eps).
  const Tensor q = Tensor::from_vector<double>({0.5, -1.0}, {1, 1, 1, 2});
  const Tensor k = Tensor::from_vector<double>({2.0, -0.5}, {1, 1, 1, 2});
  const Tensor v = Tensor::from_vector<double>({3.0}, {1, 1, 1, 1});
  LinearAttentionOptions options;
  options.feature_map = FeatureMap::Elu1;
  options.normalize = true;
  options.scale = 0.25;
  options.epsilon = 0.5;
  const double dot = 0.25 * (1.5 * 3.0 + std::exp(-1.0) * std::exp(-0.5));
  const Tensor o = linear_attention(q, k, v, options).o;
  CHECK(o.data<double>()[0] == Approx(3.0 * dot / (dot + 0.5)).epsilon(1e-14));
}

TEST_CASE("linear attention: bad operands are named", "[recurrent][linear_attn]") {
  std::mt19937 rng(2);
  const Qkv p = random_qkv(5, 4, 3, rng);
  CHECK_THROWS_WITH(linear_attention(p.q, p.k.slice(3, 0, 3), p.v),
                    Catch::Contains("linear_attention: k: expected shape"));
  CHECK_THROWS_WITH(linear_attention(p.q, p.k, p.v.to(DType::F32)),
                    Catch::Contains("linear_attention: v: expected float64 (q's dtype), found float32"));
  LinearAttentionOptions options;
  options.initial_normalizer = Tensor::zeros({1, 2, 4}, DType::F64);
  CHECK_THROWS_WITH(linear_attention(p.q, p.k, p.v, options),
                    Catch::Contains("initial_normalizer is given but normalize is off"));
  options = {};
  options.initial_state = Tensor::zeros({1, 2, 3, 4}, DType::F64);
  CHECK_THROWS_WITH(linear_attention(p.q, p.k, p.v, options),
                    Catch::Contains("linear_attention: initial_state: expected shape"));
}

TEST_CASE("based: the Taylor features' products are 1 + x + x^2 / 2", "[recurrent][based]") {
  std::mt19937 rng(3);
  const Tensor x = random_tensor({3, 5}, DType::F64, rng, -1, 1), y = random_tensor({3, 5}, DType::F64, rng, -1, 1);
  const Tensor fx = taylor_features(x, 0.3), fy = taylor_features(y, 0.3);
  REQUIRE(fx.shape() == Shape{3, 1 + 5 + 15});
  for (std::int64_t r = 0; r < 3; ++r) {
    double dot = 0, features = 0;
    for (std::int64_t i = 0; i < 5; ++i) dot += x.data<double>()[r * 5 + i] * y.data<double>()[r * 5 + i];
    for (std::int64_t i = 0; i < 21; ++i) features += fx.data<double>()[r * 21 + i] * fy.data<double>()[r * 21 + i];
    const double s = 0.3 * dot;
    CHECK(features == Approx(1 + s + s * s / 2).epsilon(1e-14));
  }
}

TEST_CASE("based: the linear form equals the quadratic definition for L = 1..300", "[recurrent][based]") {
  std::mt19937 rng(4);
  for (std::int64_t L = 1; L <= 300; ++L) {
    const Qkv p = random_qkv(L, 4, 3, rng);
    BasedOptions options{0.4, L % 3 != 0, 0};
    const Tensor want = based_reference(p.q, p.k, p.v, options);
    for (const std::int64_t chunk : {16, 64, 100}) {
      options.chunk_length = chunk;
      INFO("L " << L << " chunk " << chunk << " normalize " << options.normalize);
      CHECK(max_rel_diff(based(p.q, p.k, p.v, options), want) < 1e-10);
    }
  }
}

TEST_CASE("based: bad operands are named", "[recurrent][based]") {
  std::mt19937 rng(10);
  const Qkv p = random_qkv(5, 4, 3, rng);
  CHECK_THROWS_WITH(based(p.q, p.k.slice(1, 0, 4), p.v), Catch::Contains("based: k: expected shape"));
  CHECK_THROWS_WITH(based(p.q, p.k, p.v.to(DType::F32)),
                    Catch::Contains("based: v: expected float64 (q's dtype), found float32"));
  CHECK_THROWS_WITH(taylor_features(Tensor{}, 1.0),
                    Catch::Contains("taylor_features: x: expected (..., d_k), found nothing"));
}

TEST_CASE("gla: the WKV-6 forms equal the recurrent form for L = 1..300", "[recurrent][gla]") {
  std::mt19937 rng(5);
  for (std::int64_t L = 1; L <= 300; ++L) {
    const Qkv p = random_qkv(L, 4, 3, rng);
    const Tensor gk = random_tensor({1, L, 2, 4}, DType::F64, rng, -2, 0);
    GlaOptions options;
    options.scale = 0.5;
    options.initial_state = random_tensor({1, 2, 4, 3}, DType::F64, rng, -1, 1);
    const GlaResult want = gla_recurrent(p.q, p.k, p.v, gk, options);
    for (const std::int64_t chunk : {0, 16, 64, 100}) {  // 0: WKV-6's choice, here its parallel chunks
      options.chunk_length = chunk;
      const GlaResult got = gla(p.q, p.k, p.v, gk, options);
      INFO("L " << L << " chunk " << chunk);
      CHECK(max_rel_diff(got.o, want.o) < 1e-10);
      CHECK(max_rel_diff(got.final_state, want.final_state) < 1e-10);
    }
  }
}

TEST_CASE("gla: bad operands are named", "[recurrent][gla]") {
  std::mt19937 rng(6);
  const Qkv p = random_qkv(5, 4, 3, rng);
  CHECK_THROWS_WITH(gla(p.q, p.k, p.v, Tensor::zeros({1, 5, 2, 3}, DType::F64)),
                    Catch::Contains("gla: gk: expected shape"));
  CHECK_THROWS_WITH(gla(p.q, p.k, p.v, Tensor::zeros({1, 5, 2, 4}, DType::F32)),
                    Catch::Contains("gla: gk: expected float64 (q's dtype), found float32"));
}

TEST_CASE("linear attention, BASED and GLA stay finite over 100K steps in float32", "[recurrent][long]") {
  std::mt19937 rng(7);
  const std::int64_t L = 100000;
  const Qkv p = random_qkv(L, 16, 16, rng, DType::F32);
  LinearAttentionOptions linear;
  linear.feature_map = FeatureMap::Elu1;
  linear.normalize = true;
  linear.scale = 0.25;
  const LinearAttentionResult la = linear_attention(p.q, p.k, p.v, linear);
  CHECK(non_finite_count(la.o) == 0);
  CHECK(non_finite_count(la.final_state) == 0);
  CHECK(non_finite_count(based(p.q, p.k, p.v, {0.25, true, 0})) == 0);
  const Tensor gk = random_tensor({1, L, 2, 16}, DType::F32, rng, -0.2, 0);
  const GlaResult g = gla(p.q, p.k, p.v, gk, {0.25, {}, 0});
  CHECK(non_finite_count(g.o) == 0);
  CHECK(non_finite_count(g.final_state) == 0);
}

TEST_CASE("linear attention, BASED and GLA: CUDA equals the CPU", "[recurrent][linear_attn][gla][based][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(8);
  const auto gpu = [](const Tensor& t) { return t.to(Device::cuda()); };
  for (const std::int64_t L : {1, 3, 70, 200}) {
    INFO("L " << L);
    const Qkv p = random_qkv(L, 8, 6, rng, DType::F32);
    LinearAttentionOptions linear;
    linear.feature_map = FeatureMap::Elu1;
    linear.normalize = true;
    linear.scale = 0.3;
    linear.initial_state = random_tensor({1, 2, 8, 6}, DType::F32, rng, -1, 1);
    linear.initial_normalizer = random_tensor({1, 2, 8}, DType::F32, rng, 0, 1);
    const LinearAttentionResult want = linear_attention(p.q, p.k, p.v, linear);
    LinearAttentionOptions on_gpu = linear;
    on_gpu.initial_state = gpu(linear.initial_state);
    on_gpu.initial_normalizer = gpu(linear.initial_normalizer);
    const LinearAttentionResult got = linear_attention(gpu(p.q), gpu(p.k), gpu(p.v), on_gpu);
    REQUIRE(got.o.device().is_cuda());
    CHECK(max_rel_diff(got.o, want.o) < 1e-4);
    CHECK(max_rel_diff(got.final_state, want.final_state) < 1e-4);
    CHECK(max_rel_diff(got.final_normalizer, want.final_normalizer) < 1e-4);

    const BasedOptions based_options{0.25, true, 0};
    CHECK(max_rel_diff(based(gpu(p.q), gpu(p.k), gpu(p.v), based_options), based(p.q, p.k, p.v, based_options)) < 1e-4);

    const Tensor gk = random_tensor({1, L, 2, 8}, DType::F32, rng, -1, 0),
                 h0 = random_tensor({1, 2, 8, 6}, DType::F32, rng, -1, 1);
    const GlaResult gla_want = gla(p.q, p.k, p.v, gk, {0.3, h0, 0});
    const GlaResult gla_got = gla(gpu(p.q), gpu(p.k), gpu(p.v), gpu(gk), {0.3, gpu(h0), 0});
    CHECK(max_rel_diff(gla_got.o, gla_want.o) < 1e-4);
    CHECK(max_rel_diff(gla_got.final_state, gla_want.final_state) < 1e-4);
  }
}
