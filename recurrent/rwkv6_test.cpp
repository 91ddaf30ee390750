#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "recurrent/wkv6.hpp"
#include "tests/testing.hpp"

using namespace subq;
using namespace subq::recurrent;
using subq::testing::check_cuda_result;
using subq::testing::max_rel_diff;
using subq::testing::non_finite_count;
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

namespace {

// RWKV-6's WKV as its definition reads, in float64: o = r (S + diag(u) k^T v), S = diag(exp(w)) S + k^T v.
Wkv6Result wkv6_by_definition(const Tensor& r, const Tensor& k, const Tensor& v, const Tensor& w, const Tensor& u,
                              const Tensor& h0) {
  const std::int64_t B = r.size(0), L = r.size(1), H = r.size(2), dk = r.size(3), dv = v.size(3);
  Wkv6Result res{Tensor::zeros({B, L, H, dv}, DType::F64), h0.to(DType::F64).contiguous().clone()};
  auto at = [](const Tensor& t, std::int64_t i) { return t.data<double>()[i]; };
  for (std::int64_t bi = 0; bi < B; ++bi)
    for (std::int64_t h = 0; h < H; ++h) {
      double* S = res.final_state.data<double>() + (bi * H + h) * dk * dv;
      for (std::int64_t t = 0; t < L; ++t) {
        const std::int64_t kr = ((bi * L + t) * H + h) * dk, vr = ((bi * L + t) * H + h) * dv;
        for (std::int64_t i = 0; i < dk; ++i)
          for (std::int64_t j = 0; j < dv; ++j) {
            const double kv = at(k, kr + i) * at(v, vr + j);
            res.o.data<double>()[vr + j] += at(r, kr + i) * (S[i * dv + j] + at(u, h * dk + i) * kv);
            S[i * dv + j] = std::exp(at(w, kr + i)) * S[i * dv + j] + kv;
          }
      }
    }
  return res;
}

}  // namespace

TEST_CASE("wkv6: the stepped form and the default equal the definition", "[recurrent][rwkv6]") {
  // The stepped form pads d_k to whole tiles of rows and d_v to whole lanes (d_k 4 and 20, d_v 5
  // and 24), steps in place where nothing needs padding (64 x 64), goes through spans of 16 steps
  // (L 40) and takes a thread's heads in groups of at most 16 (40 heads). The default runs it where
  // batch x heads fill the threads (40 heads), else chunks in parallel (1 head).
  struct Case {
    std::int64_t L, H, dk, dv;
  };
  std::mt19937 rng(12);
  for (const Case c : {Case{3, 3, 4, 5}, Case{40, 3, 20, 24}, Case{40, 1, 64, 64}, Case{20, 40, 4, 5}})
    for (const DType dtype : {DType::F64, DType::F32})
      for (const bool by_default : {false, true}) {
        INFO("L " << c.L << " heads " << c.H << " d_k " << c.dk << " d_v " << c.dv << " " << dtype_name(dtype)
                  << (by_default ? " default" : " stepped"));
        auto input = [&](std::int64_t d, double lo, double hi) {
          return random_tensor({2, c.L, c.H, d}, DType::F64, rng, lo, hi);
        };
        const Tensor r = input(c.dk, -1, 1), k = input(c.dk, -1, 1), v = input(c.dv, -1, 1), w = input(c.dk, -2, 0);
        const Tensor u = random_tensor({c.H, c.dk}, DType::F64, rng, -1, 1),
                     h0 = random_tensor({2, c.H, c.dk, c.dv}, DType::F64, rng, -1, 1);
        auto in = [&](const Tensor& t) { return t.to(dtype); };
        const Wkv6Result want = wkv6_by_definition(r, k, v, w, u, h0);
        const Wkv6Result got = by_default ? wkv6(in(r), in(k), in(v), in(w), in(u), {in(h0)})
                                          : wkv6_recurrent(in(r), in(k), in(v), in(w), in(u), in(h0));
        const double tolerance = dtype == DType::F64 ? 1e-12 : 1e-5;
        CHECK(max_rel_diff(got.o.to(DType::F64), want.o) < tolerance);
        CHECK(max_rel_diff(got.final_state.to(DType::F64), want.final_state) < tolerance);
      }
}

TEST_CASE("wkv6: no overflow at L = 100K with strong decays and large keys", "[recurrent][rwkv6]") {
  std::mt19937 rng(4);
  const std::int64_t L = 100000;
  const Tensor r = random_tensor({1, L, 1, 8}, DType::F32, rng, -1, 1), k = random_tensor({1, L, 1, 8}, DType::F32, rng, -100, 100),
               v = random_tensor({1, L, 1, 8}, DType::F32, rng, -1, 1), w = random_tensor({1, L, 1, 8}, DType::F32, rng, -60, 0),
               u = random_tensor({1, 8}, DType::F32, rng, -1, 1);
  const Wkv6Result res = wkv6(r, k, v, w, u);
  CHECK(non_finite_count(res.o) == 0);
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
