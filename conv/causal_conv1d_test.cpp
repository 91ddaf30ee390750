#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "conv/causal_conv1d.hpp"
#include "tests/testing.hpp"

using namespace subq;
using namespace subq::conv;
using subq::testing::max_rel_diff;
using subq::testing::random_tensor;

TEST_CASE("causal conv1d: equals the zero-padded convolution", "[conv]") {
  // 20 channels: tiles of 16 rows and a part; 600 steps: spans of 256 and a part.
  std::mt19937 rng(1);
  const std::int64_t C = 20;
  for (const std::int64_t L : {1, 3, 4, 50, 600})
    for (const std::int64_t K : {1, 2, 4}) {
      const Tensor x = random_tensor({2, C, L}, DType::F64, rng, -1, 1),
                   w = random_tensor({C, K}, DType::F64, rng, -1, 1), b = random_tensor({C}, DType::F64, rng, -1, 1);
      const CausalConv1dResult r = causal_conv1d(x, w, b, Activation::Silu);
      for (std::int64_t row = 0; row < 2 * C; ++row)
        for (std::int64_t t = 0; t < L; ++t) {
          const std::int64_t c = row % C;
          double acc = b.data<double>()[c];
          for (std::int64_t k = 0; k < K; ++k) {
            const std::int64_t src = t - (K - 1) + k;
            if (src >= 0) acc += w.data<double>()[c * K + k] * x.data<double>()[row * L + src];
          }
          // Relative to the terms summed: an FMA may round a cancelling sum differently.
          CHECK(r.out.data<double>()[row * L + t] == Approx(acc / (1 + std::exp(-acc))).epsilon(1e-13).margin(1e-14));
        }
      // The final state holds the last K - 1 inputs, zeros where the sequence is shorter.
      for (std::int64_t k = 0; k + 1 < K; ++k) {
        const std::int64_t src = L - (K - 1) + k;
        CHECK(r.final_state.data<double>()[k] == (src >= 0 ? x.data<double>()[src] : 0.0));
      }
    }
}

TEST_CASE("causal conv1d: an output larger than the caches, streamed past them, is the same", "[conv]") {
  // 64 x 131100 float32 outputs (just over 32 MiB) go out with non-temporal stores; rows of an odd
  // length start at every alignment, so the stores' unaligned heads and tails are taken too. A few
  // channels alone are a small output, stored as usual, and must give the same bits.
  std::mt19937 rng(3);
  const std::int64_t C = 64, L = 131100, K = 4;
  const Tensor x = random_tensor({1, C, L}, DType::F32, rng, -1, 1), w = random_tensor({C, K}, DType::F32, rng, -1, 1),
               b = random_tensor({C}, DType::F32, rng, -1, 1);
  const CausalConv1dResult whole = causal_conv1d(x, w, b, Activation::Silu);
  for (const std::int64_t c0 : {0, 17, 61}) {
    INFO("channels from " << c0);
    const CausalConv1dResult part =
        causal_conv1d(x.slice(1, c0, c0 + 3), w.slice(0, c0, c0 + 3), b.slice(0, c0, c0 + 3), Activation::Silu);
    CHECK(max_rel_diff(part.out, whole.out.slice(1, c0, c0 + 3)) == 0);
  }
}

TEST_CASE("causal conv1d: step by step equals the whole sequence", "[conv]") {
  std::mt19937 rng(2);
  const std::int64_t B = 2, C = 5, L = 9, K = 4;
  const Tensor x = random_tensor({B, C, L}, DType::F32, rng, -1, 1), w = random_tensor({C, K}, DType::F32, rng, -1, 1),
               b = random_tensor({C}, DType::F32, rng, -1, 1);
  const Tensor whole = causal_conv1d(x, w, b).out;
  const CausalConv1dResult prefix = causal_conv1d(x.slice(2, 0, 4), w, b);
  const Tensor state = prefix.final_state.clone();
  for (std::int64_t t = 4; t < L; ++t) {
    const Tensor out = causal_conv1d_update(state, x.select(2, t), w, b);
    CHECK(max_rel_diff(out, whole.select(2, t)) < 1e-6);
  }
  const CausalConv1dResult rest = causal_conv1d(x.slice(2, 4, L), w, b, Activation::Identity, prefix.final_state);
  CHECK(max_rel_diff(rest.out, whole.slice(2, 4, L)) < 1e-6);
  CHECK(max_rel_diff(rest.final_state, state) == 0);
}

namespace {

// Packed sequences of lengths 1, 2, 3 (shorter than the taps' reach), 9 and 1 through
// causal_conv1d_packed against each sequence convolved alone, on `device`.
void check_packed_equals_alone(Device device) {
  std::mt19937 rng(6);
  const std::int64_t C = 5, K = 4;
  const Packing packing({1, 2, 3, 9, 1});
  const Tensor x = random_tensor({1, packing.total(), C}, DType::F32, rng, -1, 1).transpose(1, 2).to(device);
  const Tensor w = random_tensor({C, K}, DType::F32, rng, -1, 1).to(device),
               b = random_tensor({C}, DType::F32, rng, -1, 1).to(device);
  const Tensor packed = causal_conv1d_packed(x, w, b, Activation::Silu, packing);
  REQUIRE(packed.shape() == Shape{1, packing.total(), C});
  for (std::int64_t i = 0; i < packing.count(); ++i) {
    INFO("sequence " << i);
    const std::int64_t at = packing.offset(i), n = packing.length(i);
    const Tensor alone = causal_conv1d(x.slice(2, at, at + n), w, b, Activation::Silu).out.transpose(1, 2);
    CHECK(max_rel_diff(packed.slice(1, at, at + n), alone) < 1e-6);
  }
}

}  // namespace

TEST_CASE("causal conv1d: packed sequences do not reach into the one before", "[conv][packed]") {
  check_packed_equals_alone(Device::cpu());
}

TEST_CASE("causal conv1d: packed sequences on CUDA do not reach into the one before", "[conv][packed][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  check_packed_equals_alone(Device::cuda());
}

TEST_CASE("causal conv1d: CUDA equals the CPU", "[conv][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  const Device gpu = Device::cuda();
  std::mt19937 rng(5);
  for (const std::int64_t L : {1, 2, 3, 50, 1000})
    for (const std::int64_t K : {1, 2, 4})
      for (const bool with_state : {false, true}) {
        INFO("L " << L << " K " << K << " state " << with_state);
        const std::int64_t B = 2, C = 37;
        // (batch, channels, length) seen through a transposed (batch, length, channels) buffer.
        const Tensor x = random_tensor({B, L, C}, DType::F32, rng, -1, 1).transpose(1, 2);
        const Tensor w = random_tensor({C, K}, DType::F32, rng, -1, 1), b = random_tensor({C}, DType::F32, rng, -1, 1);
        const Tensor h0 = with_state ? random_tensor({B, C, K - 1}, DType::F32, rng, -1, 1) : Tensor{};
        const CausalConv1dResult cpu = causal_conv1d(x, w, b, Activation::Silu, h0);
        const CausalConv1dResult cuda =
            causal_conv1d(x.to(gpu), w.to(gpu), b.to(gpu), Activation::Silu, with_state ? h0.to(gpu) : Tensor{});
        REQUIRE(cuda.out.device() == gpu);
        CHECK(max_rel_diff(cuda.out, cpu.out) < 1e-6);
        CHECK(max_rel_diff(cuda.final_state, cpu.final_state) == 0);
        if (K > 1) {
          const Tensor state = cpu.final_state.clone(), state_gpu = cuda.final_state.clone();
          const Tensor next = random_tensor({B, C}, DType::F32, rng, -1, 1);
          CHECK(max_rel_diff(causal_conv1d_update(state_gpu, next.to(gpu), w.to(gpu), {}),
                             causal_conv1d_update(state, next, w, {})) < 1e-6);
          CHECK(max_rel_diff(state_gpu, state) == 0);
        }
      }
}

TEST_CASE("causal conv1d: operands on CUDA of another dtype or device are named", "[conv][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  const Tensor x = Tensor::zeros({1, 3, 5}, DType::F32), w = Tensor::zeros({3, 4}, DType::F32);
  CHECK_THROWS_WITH(causal_conv1d(x.to(Device::cuda()), w),
                    Catch::Contains("causal_conv1d: weight is on cpu, the input on cuda:0"));
  CHECK_THROWS_WITH(causal_conv1d(x, w.to(Device::cuda())),
                    Catch::Contains("causal_conv1d: weight is on cuda:0, the input on cpu"));
  CHECK_THROWS_WITH(causal_conv1d(x.to(DType::F64).to(Device::cuda()), w.to(DType::F64).to(Device::cuda())),
                    Catch::Contains("causal_conv1d on cuda:0: x: expected float32, found float64"));
}

TEST_CASE("causal conv1d: bad shapes name the tensor", "[conv]") {
  const Tensor x = Tensor::zeros({2, 3, 8}, DType::F32);
  CHECK_THROWS_WITH(causal_conv1d(x, Tensor::zeros({4, 4}, DType::F32)), Catch::Contains("weight: expected (3, width)"));
  CHECK_THROWS_WITH(causal_conv1d(x, Tensor::zeros({3, 4}, DType::F32), Tensor::zeros({2}, DType::F32)),
                    Catch::Contains("bias: expected shape [3]"));
  CHECK_THROWS_WITH(causal_conv1d(x, Tensor::zeros({3, 4}, DType::F32), {}, Activation::Identity,
                                  Tensor::zeros({2, 3, 4}, DType::F32)),
                    Catch::Contains("initial_state: expected shape [2, 3, 3]"));
}
