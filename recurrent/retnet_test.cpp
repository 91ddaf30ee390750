#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "recurrent/retention.hpp"
#include "tests/testing.hpp"

using namespace subq;
using namespace subq::recurrent;
using subq::testing::max_rel_diff;
using subq::testing::non_finite_count;
using subq::testing::random_tensor;

namespace {

// The recurrent form, one step at a time: S = gamma S + k^T v, o = q S / sqrt(d_k).
RetentionResult recurrent_reference(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& h0) {
  const std::int64_t B = q.size(0), L = q.size(1), H = q.size(2), dk = q.size(3), dv = v.size(3);
  RetentionResult r{Tensor::zeros(v.shape(), DType::F64), h0.clone()};
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t h = 0; h < H; ++h) {
      const double gamma = 1 - std::exp2(-5.0 - double(h));
      double* S = r.final_state.data<double>() + (b * H + h) * dv * dk;  // (d_v, d_k)
      for (std::int64_t t = 0; t < L; ++t) {
        const double* qt = q.data<double>() + ((b * L + t) * H + h) * dk;
        const double* kt = k.data<double>() + ((b * L + t) * H + h) * dk;
        const double* vt = v.data<double>() + ((b * L + t) * H + h) * dv;
        double* ot = r.o.data<double>() + ((b * L + t) * H + h) * dv;
        for (std::int64_t j = 0; j < dv; ++j)
          for (std::int64_t i = 0; i < dk; ++i) {
            S[j * dk + i] = gamma * S[j * dk + i] + kt[i] * vt[j];
            ot[j] += qt[i] * S[j * dk + i] / std::sqrt(double(dk));
          }
      }
    }
  return r;
}

}  // namespace

TEST_CASE("retention: the chunkwise form equals the recurrent form", "[recurrent][retnet]") {
  std::mt19937 rng(1);
  for (const std::int64_t L : {1, 7, 64, 129})
    for (const std::int64_t chunk : {1, 16, 64, 1000}) {
      const Tensor q = random_tensor({2, L, 3, 4}, DType::F64, rng, -1, 1), k = random_tensor({2, L, 3, 4}, DType::F64, rng, -1, 1),
                   v = random_tensor({2, L, 3, 5}, DType::F64, rng, -1, 1), h0 = random_tensor({2, 3, 5, 4}, DType::F64, rng, -1, 1);
      INFO("L " << L << " chunk " << chunk);
      const RetentionResult want = recurrent_reference(q, k, v, h0), got = retention(q, k, v, {h0, chunk});
      CHECK(max_rel_diff(got.o, want.o) < 1e-12);
      CHECK(max_rel_diff(got.final_state, want.final_state) < 1e-12);
    }
}

TEST_CASE("retention: no overflow at L = 100K with large keys", "[recurrent][retnet]") {
  std::mt19937 rng(2);
  const std::int64_t L = 100000;
  const Tensor q = random_tensor({1, L, 2, 4}, DType::F32, rng, -30, 30), k = random_tensor({1, L, 2, 4}, DType::F32, rng, -30, 30),
               v = random_tensor({1, L, 2, 4}, DType::F32, rng, -30, 30);
  const RetentionResult r = retention(q, k, v);
  CHECK(non_finite_count(r.o) == 0);
}

TEST_CASE("retention: CUDA equals the recurrent form for float32 and bfloat16", "[recurrent][retnet][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(3);
  auto gpu = [](const Tensor& t) { return t.to(Device::cuda()); };
  for (const DType dtype : {DType::F32, DType::BF16})
    for (const std::int64_t L : {1, 7, 129}) {
      INFO(dtype_name(dtype) << " L " << L);
      const Tensor q = random_tensor({2, L, 3, 4}, dtype, rng, -1, 1), k = random_tensor({2, L, 3, 4}, dtype, rng, -1, 1),
                   v = random_tensor({2, L, 3, 5}, dtype, rng, -1, 1), h0 = random_tensor({2, 3, 5, 4}, DType::F64, rng, -1, 1);
      const RetentionResult want = recurrent_reference(q.to(DType::F64), k.to(DType::F64), v.to(DType::F64), h0);
      const RetentionResult got = retention(gpu(q), gpu(k), gpu(v), {gpu(h0.to(DType::F32))});
      REQUIRE(got.o.device().is_cuda());
      CHECK(max_rel_diff(got.o, want.o) < 1e-4);
      CHECK(max_rel_diff(got.final_state, want.final_state) < 1e-4);
    }
  CHECK_THROWS_WITH(retention(gpu(Tensor::zeros({1, 2, 1, 4}, DType::F64)), gpu(Tensor::zeros({1, 2, 1, 4}, DType::F64)),
                              gpu(Tensor::zeros({1, 2, 1, 4}, DType::F64))),
                    Catch::Contains("retention on cuda:0: q: expected float32 or bfloat16, found float64"));
}
