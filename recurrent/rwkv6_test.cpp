#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "recurrent/wkv6.hpp"
#include "tests/testing.hpp"

using namespace subq;
using namespace subq::recurrent;
using subq::testing::check_cuda_result;
using subq::testing::max_rel_diff;
using subq::testing::random_tensor;

namespace {

struct Problem {
  Tensor r, k, v, w, u, h0;
};

Problem random_problem(std::int64_t L, double w_lo, double k_scale, std::uint32_t seed, DType dtype = DType::F64) {
  std::mt19937 rng(seed);
  return {random_tensor({2, L, 3, 4}, dtype, rng, -1, 1),
          random_tensor({2, L, 3, 4}, dtype, rng, -k_scale, k_scale),
          random_tensor({2, L, 3, 5}, dtype, rng, -1, 1),
          random_tensor({2, L, 3, 4}, dtype, rng, w_lo, 0),
          random_tensor({3, 4}, dtype, rng, -1, 1),
          random_tensor({2, 3, 4, 5}, dtype, rng, -1, 1)};
}

}  // namespace

TEST_CASE("wkv6: the chunked form equals the recurrent form", "[recurrent][rwkv6]") {
  std::uint32_t seed = 1;
  for (const std::int64_t L : {1, 2, 15, 64, 130})
    for (const std::int64_t chunk : {1, 7, 16, 64, 500}) {
      const Problem p = random_problem(L, -3, 1, seed++);
      INFO("L " << L << " chunk " << chunk);
      const Wkv6Result want = wkv6_recurrent(p.r, p.k, p.v, p.w, p.u, p.h0);
      const Wkv6Result got = wkv6(p.r, p.k, p.v, p.w, p.u, {p.h0, chunk});
      CHECK(max_rel_diff(got.o, want.o) < 1e-12);
      CHECK(max_rel_diff(got.final_state, want.final_state) < 1e-12);
    }
}

TEST_CASE("wkv6: both chunked paths equal the recurrent form: one head, and more heads than threads",
          "[recurrent][rwkv6]") {
  // One head leaves threads idle: its chunks run in parallel and the scan core passes their
  // states along. 64 heads fill every thread: each head's chunks run in order, streamed.
  std::mt19937 rng(12);
  for (const std::int64_t heads : {1, 64}) {
    INFO(heads << " heads");
    const std::int64_t L = 70;
    auto input = [&](std::int64_t d, double lo, double hi) {
      return random_tensor({1, L, heads, d}, DType::F64, rng, lo, hi);
    };
    const Tensor r = input(4, -1, 1), k = input(4, -1, 1), v = input(3, -1, 1), w = input(4, -2, 0);
    const Tensor u = random_tensor({heads, 4}, DType::F64, rng, -1, 1),
                 h0 = random_tensor({1, heads, 4, 3}, DType::F64, rng, -1, 1);
    const Wkv6Result want = wkv6_recurrent(r, k, v, w, u, h0), got = wkv6(r, k, v, w, u, {h0, 16});
    CHECK(max_rel_diff(got.o, want.o) < 1e-12);
    CHECK(max_rel_diff(got.final_state, want.final_state) < 1e-12);
  }
}

TEST_CASE("wkv6: the recurrent form equals its definition", "[recurrent][rwkv6]") {
  const Problem p = random_problem(3, -2, 1, 9);
  const Wkv6Result r = wkv6_recurrent(p.r, p.k, p.v, p.w, p.u, p.h0);
  // Batch 1, head 2, value 3, by hand: S0 from h0, o[t] = sum_i r_i (S_ij + u_i k_i v_j).
  auto at = [](const Tensor& t, std::int64_t i) { return t.data<double>()[i]; };
  double S[4];
  for (int i = 0; i < 4; ++i) S[i] = at(p.h0, ((1 * 3 + 2) * 4 + i) * 5 + 3);
  for (std::int64_t t = 0; t < 3; ++t) {
    double o = 0;
    for (int i = 0; i < 4; ++i) {
      const std::int64_t ki = ((1 * 3 + t) * 3 + 2) * 4 + i, vi = ((1 * 3 + t) * 3 + 2) * 5 + 3;
      const double kv = at(p.k, ki) * at(p.v, vi);
      o += at(p.r, ki) * (S[i] + at(p.u, 2 * 4 + i) * kv);
      S[i] = std::exp(at(p.w, ki)) * S[i] + kv;
    }
    CHECK(at(r.o, ((1 * 3 + t) * 3 + 2) * 5 + 3) == Approx(o).epsilon(1e-12));
  }
}

TEST_CASE("wkv6: no overflow at L = 100K with strong decays and large keys", "[recurrent][rwkv6]") {
  std::mt19937 rng(4);
  const std::int64_t L = 100000;
  const Tensor r = random_tensor({1, L, 1, 8}, DType::F32, rng, -1, 1), k = random_tensor({1, L, 1, 8}, DType::F32, rng, -100, 100),
               v = random_tensor({1, L, 1, 8}, DType::F32, rng, -1, 1), w = random_tensor({1, L, 1, 8}, DType::F32, rng, -60, 0),
               u = random_tensor({1, 8}, DType::F32, rng, -1, 1);
  const Wkv6Result res = wkv6(r, k, v, w, u);
  int bad = 0;
  for (std::int64_t i = 0; i < res.o.numel(); ++i) bad += !std::isfinite(res.o.data<float>()[i]);
  CHECK(bad == 0);
}

TEST_CASE("wkv6: CUDA equals the CPU across chunks, head sizes and dtypes", "[recurrent][rwkv6][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(5);
  auto gpu = [](const Tensor& t) { return t.to(Device::cuda()); };
  // d_k across the kernels' per-thread sizes (32, 64, 128, 256).
  for (const auto& [dk, dv] : {std::pair<std::int64_t, std::int64_t>{4, 5}, {64, 64}, {100, 33}, {256, 8}})
    for (const DType dtype : {DType::F64, DType::F32, DType::BF16})
      for (const std::int64_t L : {1, 15, 130})
        for (const std::int64_t chunk : {0, 16, 500}) {
          INFO("d_k " << dk << " d_v " << dv << " " << dtype_name(dtype) << " L " << L << " chunk " << chunk);
          const Shape ks{2, L, 3, dk}, vs{2, L, 3, dv};
          const Tensor r = random_tensor(ks, dtype, rng, -1, 1), k = random_tensor(ks, dtype, rng, -1, 1),
                       v = random_tensor(vs, dtype, rng, -1, 1), w = random_tensor(ks, dtype, rng, -3, 0),
                       u = random_tensor({3, dk}, dtype, rng, -1, 1), h0 = random_tensor({2, 3, dk, dv}, DType::F64, rng, -1, 1);
          auto f64 = [](const Tensor& t) { return t.to(DType::F64); };
          const Wkv6Result want = wkv6_recurrent(f64(r), f64(k), f64(v), f64(w), f64(u), h0);
          const Wkv6Result got = chunk == 500 ? wkv6_recurrent(gpu(r), gpu(k), gpu(v), gpu(w), gpu(u), gpu(h0))
                                              : wkv6(gpu(r), gpu(k), gpu(v), gpu(w), gpu(u), {gpu(h0), chunk});
          check_cuda_result(got.o, want.o, got.final_state, want.final_state, dtype, dk);
        }
}

TEST_CASE("wkv6: no overflow on CUDA at L = 100K with strong decays and large keys", "[recurrent][rwkv6][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(6);
  const std::int64_t L = 100000;
  const Tensor r = random_tensor({1, L, 1, 8}, DType::F32, rng, -1, 1), k = random_tensor({1, L, 1, 8}, DType::F32, rng, -100, 100),
               v = random_tensor({1, L, 1, 8}, DType::F32, rng, -1, 1), w = random_tensor({1, L, 1, 8}, DType::F32, rng, -60, 0),
               u = random_tensor({1, 8}, DType::F32, rng, -1, 1);
  auto gpu = [](const Tensor& t) { return t.to(Device::cuda()); };
  const Wkv6Result got = wkv6(gpu(r), gpu(k), gpu(v), gpu(w), gpu(u));
  CHECK(max_rel_diff(got.o, wkv6(r, k, v, w, u).o) < 1e-3);
}

TEST_CASE("wkv6: CUDA operands on another device, of another dtype or too wide are named", "[recurrent][rwkv6][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  const Problem p = random_problem(4, -1, 1, 7, DType::F32);
  auto gpu = [](const Tensor& t) { return t.to(Device::cuda()); };
  CHECK_THROWS_WITH(wkv6(gpu(p.r), gpu(p.k), p.v, gpu(p.w), gpu(p.u)), Catch::Contains("wkv6: v is on cpu, the input on cuda:0"));
  CHECK_THROWS_WITH(wkv6(gpu(p.r), gpu(p.k), gpu(p.v), gpu(p.w).to(DType::F64), gpu(p.u)),
                    Catch::Contains("wkv6 on cuda:0: w: expected float32, found float64"));
  const Tensor wide = Tensor::zeros({1, 2, 1, 300}, DType::F32, Device::cuda());
  CHECK_THROWS_WITH(wkv6(wide, wide, Tensor::zeros({1, 2, 1, 4}, DType::F32, Device::cuda()), wide,
                         Tensor::zeros({1, 300}, DType::F32, Device::cuda())),
                    Catch::Contains("takes d_k up to 256 and d_v up to 1024, found 300 and 4"));
}
