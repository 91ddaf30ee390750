#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "core/thread_pool.hpp"
#include "ssm/ssd.hpp"
#include "tests/testing.hpp"

using namespace subq;
using namespace subq::ssm;
using subq::testing::max_rel_diff;
using subq::testing::random_tensor;

namespace {

struct Problem {
  Tensor X, A, B, C, h0;
};

Problem random_problem(std::int64_t batch, std::int64_t L, std::int64_t heads, std::int64_t P, std::int64_t groups,
                       std::int64_t N, std::uint32_t seed) {
  std::mt19937 rng(seed);
  return {random_tensor({batch, L, heads, P}, DType::F64, rng, -1, 1),
          random_tensor({batch, L, heads}, DType::F64, rng, -0.5, 0),
          random_tensor({batch, L, groups, N}, DType::F64, rng, -1, 1),
          random_tensor({batch, L, groups, N}, DType::F64, rng, -1, 1),
          random_tensor({batch, heads, P, N}, DType::F64, rng, -1, 1)};
}

// The recurrence one step at a time: state = exp(A) state + x B^T, y = state C.
SsdResult reference(const Problem& p) {
  const std::int64_t batch = p.X.size(0), L = p.X.size(1), heads = p.X.size(2), P = p.X.size(3), G = p.B.size(2),
                     N = p.B.size(3);
  SsdResult r{Tensor::zeros(p.X.shape(), DType::F64), p.h0.clone()};
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t h = 0; h < heads; ++h) {
      double* s = r.final_state.data<double>() + (b * heads + h) * P * N;
      const std::int64_t g = h / (heads / G);
      for (std::int64_t t = 0; t < L; ++t) {
        const double decay = std::exp(p.A.data<double>()[(b * L + t) * heads + h]);
        const double* x = p.X.data<double>() + ((b * L + t) * heads + h) * P;
        const double* B = p.B.data<double>() + ((b * L + t) * G + g) * N;
        const double* C = p.C.data<double>() + ((b * L + t) * G + g) * N;
        double* y = r.Y.data<double>() + ((b * L + t) * heads + h) * P;
        for (std::int64_t i = 0; i < P; ++i)
          for (std::int64_t n = 0; n < N; ++n) {
            s[i * N + n] = decay * s[i * N + n] + x[i] * B[n];
            y[i] += s[i * N + n] * C[n];
          }
      }
    }
  return r;
}

SsdResult run(const Problem& p, std::int64_t chunk, DType dtype = DType::F64, ThreadPool* pool = nullptr) {
  SsdOptions o;
  o.chunk_length = chunk;
  o.pool = pool;
  o.initial_state = p.h0.to(dtype);
  return ssd(p.X.to(dtype), p.A.to(dtype), p.B.to(dtype), p.C.to(dtype), o);
}

}  // namespace

TEST_CASE("ssd: equals the step-by-step recurrence for any chunk length", "[ssm][ssd]") {
  std::uint32_t seed = 1;
  for (const std::int64_t L : {1, 3, 17, 64, 130})  // 1 and 3 step the recurrence
    for (const std::int64_t chunk : {1, 5, 16, 64, 1000})
      for (const std::int64_t groups : {1, 2, 4}) {
        const Problem p = random_problem(2, L, 4, 3, groups, 5, seed++);
        INFO("L " << L << " chunk " << chunk << " groups " << groups);
        const SsdResult want = reference(p), got = run(p, chunk);
        CHECK(max_rel_diff(got.Y, want.Y) < 1e-12);
        CHECK(max_rel_diff(got.final_state, want.final_state) < 1e-12);
        const SsdResult single = run(p, chunk, DType::F32);
        CHECK(single.Y.dtype() == DType::F32);
        CHECK(max_rel_diff(single.Y, want.Y) < 1e-4);
        CHECK(max_rel_diff(single.final_state, want.final_state) < 1e-4);
      }
}

TEST_CASE("ssd: the streamed and the parallel-chunk forms give the recurrence's results", "[ssm][ssd]") {
  // 2 x 4 heads: streamed on one thread (at least 2 heads per thread), chunks in parallel on 8.
  ThreadPool one(1), eight(8);
  for (const std::int64_t groups : {1, 2}) {
    const Problem p = random_problem(2, 200, 4, 3, groups, 5, 21);
    const SsdResult want = reference(p);
    for (ThreadPool* pool : {&one, &eight}) {
      INFO("threads " << pool->size() << " groups " << groups);
      const SsdResult got = run(p, 16, DType::F64, pool);
      CHECK(max_rel_diff(got.Y, want.Y) < 1e-12);
      CHECK(max_rel_diff(got.final_state, want.final_state) < 1e-12);
    }
  }
}

TEST_CASE("ssd: strided inputs and the default chunk length", "[ssm][ssd]") {
  const Problem p = random_problem(1, 300, 2, 4, 1, 3, 9);
  Problem q = p;
  q.X = p.X.permute({0, 2, 1, 3}).contiguous().permute({0, 2, 1, 3});
  REQUIRE_FALSE(q.X.is_contiguous());
  CHECK(max_rel_diff(run(q, 0).Y, reference(p).Y) < 1e-12);
}

TEST_CASE("ssd: bad shapes name the tensor", "[ssm][ssd]") {
  const Problem p = random_problem(1, 8, 4, 2, 2, 3, 1);
  CHECK_THROWS_WITH(ssd(p.X, p.A.slice(1, 0, 7), p.B, p.C), Catch::Contains("A: expected shape [1, 8, 4], found [1, 7, 4]"));
  CHECK_THROWS_WITH(ssd(p.X, p.A, p.B, p.C.slice(3, 0, 2)), Catch::Contains("C: expected shape [1, 8, 2, 3]"));
  CHECK_THROWS_WITH(ssd(p.X, p.A, Tensor::zeros({1, 8, 3, 3}, DType::F64), p.C),
                    Catch::Contains("3 groups do not divide 4 heads"));
  SsdOptions o;
  o.initial_state = Tensor::zeros({1, 4, 2, 2}, DType::F64);
  CHECK_THROWS_WITH(ssd(p.X, p.A, p.B, p.C, o), Catch::Contains("initial_state: expected shape [1, 4, 2, 3]"));
}

TEST_CASE("ssd: CUDA equals the recurrence, across its chunks and tiles", "[ssm][ssd][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  std::uint32_t seed = 40;
  // L across the CUDA chunk of 64; P and N across the kernels' 32-wide tiles.
  for (const std::int64_t L : {1, 3, 63, 64, 65, 300})
    for (const auto& [P, N] : {std::pair<std::int64_t, std::int64_t>{3, 5}, {32, 32}, {40, 70}})
      for (const std::int64_t groups : {1, 2}) {
        const Problem p = random_problem(2, L, 4, P, groups, N, seed++);
        INFO("L " << L << " P " << P << " N " << N << " groups " << groups);
        const SsdResult want = reference(p);
        for (const std::int64_t chunk : {0, 16, 200}) {
          INFO("chunk " << chunk);
          SsdOptions o;
          o.chunk_length = chunk;
          o.initial_state = p.h0.to(DType::F32).to(Device::cuda());
          auto gpu = [](const Tensor& t) { return t.to(DType::F32).to(Device::cuda()); };
          const SsdResult got = ssd(gpu(p.X), gpu(p.A), gpu(p.B), gpu(p.C), o);
          REQUIRE(got.Y.device().is_cuda());
          CHECK(max_rel_diff(got.Y, want.Y) < 1e-4);
          CHECK(max_rel_diff(got.final_state, want.final_state) < 1e-4);
        }
      }
}

TEST_CASE("ssd: operands on CUDA of another dtype or device are named", "[ssm][ssd][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  const Problem p = random_problem(1, 8, 4, 2, 2, 3, 1);
  auto gpu = [](const Tensor& t) { return t.to(DType::F32).to(Device::cuda()); };
  CHECK_THROWS_WITH(ssd(p.X.to(Device::cuda()), gpu(p.A), gpu(p.B), gpu(p.C)),
                    Catch::Contains("ssd on cuda:0: X: expected float32, found float64"));
  CHECK_THROWS_WITH(ssd(gpu(p.X), gpu(p.A), p.B.to(DType::F32), gpu(p.C)),
                    Catch::Contains("ssd: B is on cpu, the input on cuda:0"));
  CHECK_THROWS_WITH(ssd(p.X, p.A, p.B, p.C.to(Device::cuda())), Catch::Contains("ssd: C is on cuda:0, the input on cpu"));
}
