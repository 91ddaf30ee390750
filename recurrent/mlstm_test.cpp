// xLSTM's mLSTM cell: the SSD form against the stabilised recurrent specification, the stabiliser's
// independence, bad operands and long inputs with large gates.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "recurrent/mlstm.hpp"
#include "tests/testing.hpp"

using namespace subq;
using namespace subq::recurrent;
using subq::testing::max_rel_diff;
using subq::testing::non_finite_count;
using subq::testing::random_tensor;

namespace {

struct Cell {
  Tensor q, k, v, i, f;
};

Cell random_cell(std::int64_t L, std::mt19937& rng, DType dtype = DType::F64, double gate = 3) {
  return {random_tensor({1, L, 2, 4}, dtype, rng, -1, 1), random_tensor({1, L, 2, 4}, dtype, rng, -1, 1),
          random_tensor({1, L, 2, 3}, dtype, rng, -1, 1), random_tensor({1, L, 2}, dtype, rng, -gate, gate),
          random_tensor({1, L, 2}, dtype, rng, -gate, gate)};
}

}  // namespace

TEST_CASE("mlstm: the SSD form equals the stabilised recurrent form for L = 1..300", "[recurrent][mlstm]") {
  std::mt19937 rng(1);
  for (std::int64_t L = 1; L <= 300; ++L) {
    const Cell c = random_cell(L, rng);
    MlstmOptions options;
    options.forget_gate = L % 2 ? ForgetGate::Sigmoid : ForgetGate::Exponential;
    options.initial_C = random_tensor({1, 2, 4, 3}, DType::F64, rng, -1, 1);
    options.initial_n = random_tensor({1, 2, 4}, DType::F64, rng, -1, 1);
    options.initial_m = random_tensor({1, 2}, DType::F64, rng, -1, 1);
    const MlstmResult want = mlstm_recurrent(c.q, c.k, c.v, c.i, c.f, options);
    for (const std::int64_t chunk : {16, 64, 100}) {
      options.chunk_length = chunk;
      const MlstmResult got = mlstm(c.q, c.k, c.v, c.i, c.f, options);
      INFO("L " << L << " chunk " << chunk);
      CHECK(max_rel_diff(got.h, want.h) < 1e-10);
      CHECK(max_rel_diff(got.final_C, want.final_C) < 1e-10);
      CHECK(max_rel_diff(got.final_n, want.final_n) < 1e-10);
      CHECK(max_rel_diff(got.final_m, want.final_m) < 1e-10);
    }
  }
}

TEST_CASE("mlstm: without epsilon, h does not depend on the stabiliser's start", "[recurrent][mlstm]") {
  // C~ = C exp(m) and n~ = n exp(m) are what h reads (h = q C~ / max(|q . n~|, 1)): starting from
  // (C0, n0, m0) or from (C0 e^d, n0 e^d, m0 - d) is the same cell.
  std::mt19937 rng(2);
  const Cell c = random_cell(40, rng);
  MlstmOptions a;
  a.epsilon = 0;
  a.initial_C = random_tensor({1, 2, 4, 3}, DType::F64, rng, -1, 1);
  a.initial_n = random_tensor({1, 2, 4}, DType::F64, rng, 0, 1);
  a.initial_m = Tensor::from_vector<double>({0.5, -0.25}, {1, 2});
  MlstmOptions b = a;
  const double d = 0.75;
  b.initial_C = a.initial_C.clone();
  b.initial_n = a.initial_n.clone();
  for (std::int64_t i = 0; i < b.initial_C.numel(); ++i) b.initial_C.data<double>()[i] *= std::exp(d);
  for (std::int64_t i = 0; i < b.initial_n.numel(); ++i) b.initial_n.data<double>()[i] *= std::exp(d);
  b.initial_m = Tensor::from_vector<double>({0.5 - d, -0.25 - d}, {1, 2});
  CHECK(max_rel_diff(mlstm(c.q, c.k, c.v, c.i, c.f, a).h, mlstm(c.q, c.k, c.v, c.i, c.f, b).h) < 1e-12);
}

TEST_CASE("mlstm: bad operands are named", "[recurrent][mlstm]") {
  std::mt19937 rng(3);
  const Cell c = random_cell(5, rng);
  CHECK_THROWS_WITH(mlstm(c.q, c.k, c.v, c.i.slice(1, 0, 4), c.f),
                    Catch::Contains("mlstm: input_gate: expected shape"));
  MlstmOptions options;
  options.initial_m = Tensor::zeros({1, 3}, DType::F64);
  CHECK_THROWS_WITH(mlstm(c.q, c.k, c.v, c.i, c.f, options), Catch::Contains("mlstm: initial_m: expected shape"));
}

TEST_CASE("mlstm stays finite over 100K steps in float32 with large input gates", "[recurrent][mlstm][long]") {
  // Input gates up to e^30 would overflow float32 without the stabiliser.
  std::mt19937 rng(4);
  const Cell c = random_cell(100000, rng, DType::F32, 30);
  const MlstmResult r = mlstm(c.q, c.k, c.v, c.i, c.f);
  CHECK(non_finite_count(r.h) == 0);
  // Against float64 steps: float32's drift measured 1.1e-3 at worst (h divides by |q . n|, which
  // these random gates leave small at times); 5e-3 bounds it.
  const MlstmResult want = mlstm_recurrent(c.q, c.k, c.v, c.i, c.f);
  CHECK(max_rel_diff(r.h, want.h) < 5e-3);
}

TEST_CASE("mlstm: CUDA equals the CPU", "[recurrent][mlstm][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(5);
  const auto gpu = [](const Tensor& t) { return t.to(Device::cuda()); };
  for (const std::int64_t L : {1, 50, 130}) {
    INFO("L " << L);
    const Cell c = random_cell(L, rng, DType::F32);
    MlstmOptions options;
    options.forget_gate = L == 50 ? ForgetGate::Exponential : ForgetGate::Sigmoid;
    options.initial_C = random_tensor({1, 2, 4, 3}, DType::F32, rng, -1, 1);
    options.initial_n = random_tensor({1, 2, 4}, DType::F32, rng, -1, 1);
    options.initial_m = random_tensor({1, 2}, DType::F32, rng, -1, 1);
    const MlstmResult want = mlstm(c.q, c.k, c.v, c.i, c.f, options);
    options.initial_C = gpu(options.initial_C);
    options.initial_n = gpu(options.initial_n);
    options.initial_m = gpu(options.initial_m);
    const MlstmResult got = mlstm(gpu(c.q), gpu(c.k), gpu(c.v), gpu(c.i), gpu(c.f), options);
    REQUIRE(got.h.device().is_cuda());
    CHECK(max_rel_diff(got.h, want.h) < 1e-4);
    CHECK(max_rel_diff(got.final_C, want.final_C) < 1e-4);
    CHECK(max_rel_diff(got.final_n, want.final_n) < 1e-4);
    CHECK(max_rel_diff(got.final_m, want.final_m) < 1e-6);
  }
}
