#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "recurrent/wkv4.hpp"
#include "tests/testing.hpp"

using namespace subq;
using namespace subq::recurrent;
using subq::testing::check_cuda_result;
using subq::testing::max_rel_diff;
using subq::testing::random_tensor;

TEST_CASE("wkv4: equals the weighted average it defines", "[recurrent][rwkv4]") {
  std::mt19937 rng(1);
  const std::int64_t B = 2, L = 40, C = 70;  // C crosses the 64-channel blocks
  const Tensor decay = random_tensor({C}, DType::F64, rng, -3, 1), first = random_tensor({C}, DType::F64, rng, -1, 1),
               k = random_tensor({B, L, C}, DType::F64, rng, -5, 5), v = random_tensor({B, L, C}, DType::F64, rng, -1, 1);
  const Wkv4Result r = wkv4(decay, first, k, v);
  auto at = [&](const Tensor& t, std::int64_t b, std::int64_t i, std::int64_t c) { return t.data<double>()[(b * L + i) * C + c]; };
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t c = 0; c < C; ++c) {
      const double w = -std::exp(decay.data<double>()[c]), u = first.data<double>()[c];
      for (std::int64_t t = 0; t < L; ++t) {
        double num = std::exp(u + at(k, b, t, c)) * at(v, b, t, c), den = std::exp(u + at(k, b, t, c));
        for (std::int64_t i = 0; i < t; ++i) {
          const double e = std::exp(double(t - 1 - i) * w + at(k, b, i, c));
          num += e * at(v, b, i, c), den += e;
        }
        CHECK(at(r.out, b, t, c) == Approx(num / den).epsilon(1e-11));
      }
    }
}

TEST_CASE("wkv4: splitting the sequence and carrying the state changes nothing", "[recurrent][rwkv4]") {
  std::mt19937 rng(2);
  const std::int64_t L = 33;
  const Tensor decay = random_tensor({5}, DType::F64, rng, -3, 1), first = random_tensor({5}, DType::F64, rng, -1, 1),
               k = random_tensor({1, L, 5}, DType::F64, rng, -5, 5), v = random_tensor({1, L, 5}, DType::F64, rng, -1, 1);
  const Wkv4Result whole = wkv4(decay, first, k, v);
  const Wkv4Result head = wkv4(decay, first, k.slice(1, 0, 1), v.slice(1, 0, 1));
  const Wkv4Result tail = wkv4(decay, first, k.slice(1, 1, L), v.slice(1, 1, L), {head.final_state});
  CHECK(max_rel_diff(tail.out, whole.out.slice(1, 1, L)) < 1e-13);
  CHECK(max_rel_diff(tail.final_state.num, whole.final_state.num) < 1e-13);
}

TEST_CASE("wkv4: no overflow at L = 100K with strong decays and large keys", "[recurrent][rwkv4]") {
  // Every output is a weighted average of values, so it must stay within their range.
  std::mt19937 rng(3);
  const std::int64_t L = 100000, C = 24;                           // 16 channels in vectors, 8 one at a time
  const Tensor decay = random_tensor({C}, DType::F32, rng, 2, 4),  // w = -exp(2..4): strong
      first = random_tensor({C}, DType::F32, rng, -1, 1), k = random_tensor({1, L, C}, DType::F32, rng, -1000, 1000),
               v = random_tensor({1, L, C}, DType::F32, rng, -1, 1);
  const Wkv4Result r = wkv4(decay, first, k, v);
  int outside = 0;
  for (std::int64_t i = 0; i < r.out.numel(); ++i) {
    const float y = r.out.data<float>()[i];
    outside += !(std::isfinite(y) && y >= -1.0001f && y <= 1.0001f);
  }
  CHECK(outside == 0);
}

TEST_CASE("wkv4: bad shapes name the tensor", "[recurrent][rwkv4]") {
  const Tensor k = Tensor::zeros({1, 4, 3}, DType::F32);
  CHECK_THROWS_WITH(wkv4(Tensor::zeros({3}, DType::F32), Tensor::zeros({2}, DType::F32), k, k),
                    Catch::Contains("time_first: expected shape [3], found [2]"));
  CHECK_THROWS_WITH(wkv4(Tensor::zeros({3}, DType::F32), Tensor::zeros({3}, DType::F32), k, k.slice(1, 0, 2)),
                    Catch::Contains("v: expected shape [1, 4, 3]"));
}

TEST_CASE("wkv4: the chunked form equals the recurrent form", "[recurrent][rwkv4]") {
  std::mt19937 rng(4);
  for (const std::int64_t L : {1, 50, 300})
    for (const std::int64_t chunk : {1, 7, 64, 1000}) {
      const Tensor decay = random_tensor({70}, DType::F64, rng, -3, 2), first = random_tensor({70}, DType::F64, rng, -1, 1),
                   k = random_tensor({2, L, 70}, DType::F64, rng, -300, 300), v = random_tensor({2, L, 70}, DType::F64, rng, -1, 1);
      const Wkv4Result start = wkv4(decay, first, random_tensor({2, 9, 70}, DType::F64, rng, -5, 5),
                                    random_tensor({2, 9, 70}, DType::F64, rng, -1, 1));
      INFO("L " << L << " chunk " << chunk);
      const Wkv4Result whole = wkv4(decay, first, k, v, {start.final_state, L});  // one chunk: the recurrence
      const Wkv4Result pieces = wkv4(decay, first, k, v, {start.final_state, chunk});
      CHECK(max_rel_diff(pieces.out, whole.out) < 1e-12);
      CHECK(max_rel_diff(pieces.final_state.num, whole.final_state.num) < 1e-12);
      CHECK(max_rel_diff(pieces.final_state.max, whole.final_state.max) < 1e-12);
    }
}

TEST_CASE("wkv4: CUDA equals the CPU across chunks and dtypes", "[recurrent][rwkv4][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(5);
  auto gpu = [](const Tensor& t) { return t.to(Device::cuda()); };
  const std::int64_t B = 2, C = 70;
  for (const DType dtype : {DType::F64, DType::F32, DType::BF16})
    for (const std::int64_t L : {1, 50, 300})
      for (const std::int64_t chunk : {0, 7, 1000}) {
        INFO(dtype_name(dtype) << " L " << L << " chunk " << chunk);
        const Tensor decay = random_tensor({C}, DType::F64, rng, -3, 2), first = random_tensor({C}, DType::F64, rng, -1, 1),
                     k = random_tensor({B, L, C}, dtype, rng, -30, 30), v = random_tensor({B, L, C}, dtype, rng, -1, 1);
        const Wkv4Result start = wkv4(decay, first, random_tensor({B, 9, C}, DType::F64, rng, -5, 5),
                                      random_tensor({B, 9, C}, DType::F64, rng, -1, 1));
        const Wkv4Result want = wkv4(decay, first, k.to(DType::F64), v.to(DType::F64), {start.final_state});
        const Wkv4Result got =
            wkv4(gpu(decay), gpu(first), gpu(k), gpu(v),
                 {{gpu(start.final_state.num), gpu(start.final_state.den), gpu(start.final_state.max)}, chunk});
        check_cuda_result(got.out, want.out, got.final_state.num, want.final_state.num, dtype, 1);
        check_cuda_result(got.out, want.out, got.final_state.den, want.final_state.den, dtype, 1);
        check_cuda_result(got.out, want.out, got.final_state.max, want.final_state.max, dtype, 1);
      }
}

TEST_CASE("wkv4: no overflow on CUDA at L = 100K with strong decays and large keys", "[recurrent][rwkv4][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(6);
  const std::int64_t L = 100000, C = 24;  // 16 channels in vectors, 8 one at a time
  const Tensor decay = random_tensor({C}, DType::F32, rng, 2, 4), first = random_tensor({C}, DType::F32, rng, -1, 1),
               k = random_tensor({1, L, C}, DType::F32, rng, -1000, 1000), v = random_tensor({1, L, C}, DType::F32, rng, -1, 1);
  const Tensor out = wkv4(decay.to(Device::cuda()), first.to(Device::cuda()), k.to(Device::cuda()), v.to(Device::cuda())).out;
  CHECK(max_rel_diff(out, wkv4(decay, first, k, v).out) < 1e-4);
}

TEST_CASE("wkv4: CUDA operands on another device or of another dtype are named", "[recurrent][rwkv4][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  const Tensor w = Tensor::zeros({3}, DType::F32), k = Tensor::zeros({1, 4, 3}, DType::F32);
  const Tensor wg = w.to(Device::cuda()), kg = k.to(Device::cuda());
  CHECK_THROWS_WITH(wkv4(wg, wg, kg, k), Catch::Contains("wkv4: v is on cpu, the input on cuda:0"));
  CHECK_THROWS_WITH(wkv4(w, wg, kg, kg), Catch::Contains("wkv4: time_decay is on cpu, the input on cuda:0"));
  CHECK_THROWS_WITH(wkv4(wg, wg, kg, kg.to(DType::F64)), Catch::Contains("wkv4 on cuda:0: v: expected float32, found float64"));
  CHECK_THROWS_WITH(wkv4(wg, wg, Tensor::zeros({1, 4, 3}, DType::I32).to(Device::cuda()), kg), Catch::Contains("k: expected float32, float64 or bfloat16"));
}
