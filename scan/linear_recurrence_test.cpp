#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "core/device.hpp"
#include "scan/linear_recurrence.hpp"
#include "scan/scan_operator.hpp"
#include "tests/testing.hpp"

using namespace subq;
using namespace subq::scan;
using subq::testing::max_rel_diff;
using subq::testing::random_tensor;

namespace {

struct Problem {
  Tensor a, b, h0;
};

Problem random_problem(std::int64_t B, std::int64_t D, std::int64_t L, DType dtype, std::uint32_t seed) {
  std::mt19937 rng(seed);
  // Complex decays are drawn per part, so keep their modulus below 1 too.
  const double bound = is_complex(dtype) ? 0.7 : 0.999;
  return {random_tensor({B, D, L}, dtype, rng, -bound, bound), random_tensor({B, D, L}, dtype, rng, -1, 1),
          random_tensor({B, D}, dtype, rng, -1, 1)};
}

}  // namespace

TEST_CASE("scan operator: composition is associative and matches stepping", "[scan]") {
  const Affine<double> x{0.5, 1.0}, y{-0.25, 2.0}, z{0.75, -1.0};
  const auto left = compose(compose(x, y), z), right = compose(x, compose(y, z));
  CHECK(left.a == Approx(right.a));
  CHECK(left.b == Approx(right.b));
  const double h = 3.0;
  CHECK(left.apply(h) == Approx(z.apply(y.apply(x.apply(h)))));
  CHECK(compose(Affine<double>::identity(), x).b == x.b);
}

TEST_CASE("scan: the parallel scan equals the sequential loop (float64, complex128)", "[scan][property]") {
  const std::int64_t lengths[] = {1, 2, 7, 8, 9, 511, 512, 513, 1000, 4095, 4096, 4097, 8193, 33333, 100000};
  std::uint32_t seed = 1;
  for (DType dtype : {DType::F64, DType::C128})
    for (Direction dir : {Direction::Forward, Direction::Reverse})
      for (std::int64_t L : lengths)
        for (int threads : {1, 2, 3, 8}) {
          // Few rows force the segmented (chunked) path; many rows the row-parallel one.
          const std::int64_t B = 1 + seed % 2, D = (L > 10000) ? 1 + seed % 3 : 1 + seed % 19;
          const Problem p = random_problem(B, D, L, dtype, seed++);
          ThreadPool pool(threads);
          const auto want = linear_recurrence_sequential(p.a, p.b, p.h0, dir);
          const auto got = linear_recurrence(p.a, p.b, p.h0, {dir, &pool, 0});
          INFO("dtype " << dtype_name(dtype) << " L " << L << " B " << B << " D " << D << " threads " << threads
                        << (dir == Direction::Reverse ? " reverse" : " forward"));
          CHECK(max_rel_diff(got.h, want.h) < 1e-12);
          CHECK(max_rel_diff(got.final_state, want.final_state) < 1e-12);
        }
}

TEST_CASE("scan: every chunk length gives the same result", "[scan][property]") {
  const Problem p = random_problem(2, 3, 1037, DType::F64, 99);
  ThreadPool pool(3);
  for (Direction dir : {Direction::Forward, Direction::Reverse}) {
    const auto want = linear_recurrence_sequential(p.a, p.b, p.h0, dir);
    for (std::int64_t chunk : {1, 2, 3, 7, 8, 64, 100, 512, 1036, 1037, 1038, 5000}) {
      INFO("chunk " << chunk);
      const auto got = linear_recurrence(p.a, p.b, p.h0, {dir, &pool, chunk});
      CHECK(max_rel_diff(got.h, want.h) < 1e-12);
      CHECK(max_rel_diff(got.final_state, want.final_state) < 1e-12);
    }
  }
}

TEST_CASE("scan: h written in place over b equals a separate output", "[scan]") {
  for (const std::int64_t chunk : {0, 100}) {  // one segment per row, and segmented rows
    const Problem p = random_problem(2, 3, 5000, DType::F64, 11);
    LinearRecurrenceOptions options;
    options.chunk_length = chunk;
    const LinearRecurrenceResult separate = linear_recurrence(p.a, p.b, p.h0, options);
    options.out = p.b.clone();
    const LinearRecurrenceResult in_place = linear_recurrence(p.a, options.out, p.h0, options);
    CHECK(in_place.h.raw_data() == options.out.raw_data());
    CHECK(max_rel_diff(in_place.h, separate.h) == 0);
    CHECK(max_rel_diff(in_place.final_state, separate.final_state) == 0);
  }
}

TEST_CASE("scan: float32 and complex64 stay close to the float64 loop", "[scan]") {
  for (DType dtype : {DType::F32, DType::C64}) {
    const Problem p = random_problem(1, 3, 50000, dtype, 7);
    const DType wide = dtype == DType::F32 ? DType::F64 : DType::C128;
    const auto want = linear_recurrence_sequential(p.a.to(wide), p.b.to(wide), p.h0.to(wide));
    const auto got = linear_recurrence(p.a, p.b, p.h0);
    CHECK(got.h.dtype() == dtype);
    CHECK(max_rel_diff(got.h, want.h) < 1e-4);
  }
}

TEST_CASE("scan: strided and broadcast inputs, missing h0, empty sequences", "[scan]") {
  const Problem p = random_problem(2, 4, 3000, DType::F64, 5);
  // a broadcast over channels (stride 0), b a transposed view.
  const Tensor a = p.a.slice(1, 0, 1).expand({2, 4, 3000});
  const Tensor b = p.b.transpose(0, 1).contiguous().transpose(0, 1);
  REQUIRE_FALSE(b.is_contiguous());
  const auto want = linear_recurrence_sequential(a.contiguous(), b.contiguous());
  const auto got = linear_recurrence(a, b);
  CHECK(max_rel_diff(got.h, want.h) < 1e-12);
  const Tensor out = Tensor::empty({2, 4, 3000}, DType::F64);
  const auto into = linear_recurrence(a, b, {}, {Direction::Forward, nullptr, 0, out});
  CHECK(into.h.raw_data() == out.raw_data());
  CHECK(max_rel_diff(out, want.h) < 1e-12);

  const Tensor empty_a = Tensor::zeros({2, 3, 0}, DType::F32);
  const auto r = linear_recurrence(empty_a, empty_a, Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3}));
  CHECK(r.h.numel() == 0);
  CHECK(r.final_state.data<float>()[5] == 6.0f);
}

TEST_CASE("scan: bfloat16 inputs run with float32 state", "[scan]") {
  const Problem p = random_problem(1, 2, 2000, DType::F32, 11);
  const Tensor a16 = p.a.to(DType::BF16), b16 = p.b.to(DType::BF16);
  const auto got = linear_recurrence(a16, b16);
  CHECK(got.h.dtype() == DType::F32);
  const auto want = linear_recurrence_sequential(a16.to(DType::F64), b16.to(DType::F64));
  CHECK(max_rel_diff(got.h, want.h) < 1e-4);
}

TEST_CASE("scan: bad arguments are rejected with the tensor named", "[scan]") {
  const Tensor a = Tensor::zeros({2, 3, 5}, DType::F32);
  CHECK_THROWS_WITH(linear_recurrence(a, Tensor::zeros({2, 3, 4}, DType::F32)),
                    Catch::Contains("tensor 'b': expected shape [2, 3, 5] (as 'a'), found [2, 3, 4]"));
  CHECK_THROWS_WITH(linear_recurrence(a, Tensor::zeros({2, 3, 5}, DType::F64)),
                    Catch::Contains("tensor 'b': expected dtype float32"));
  CHECK_THROWS_WITH(linear_recurrence(a, a, Tensor::zeros({3, 2}, DType::F32)),
                    Catch::Contains("tensor 'h0': expected shape [2, 3], found [3, 2]"));
  CHECK_THROWS_WITH(linear_recurrence(a.view({6, 5}), a.view({6, 5})), Catch::Contains("(batch, channels, length)"));
  const Tensor ints = Tensor::zeros({1, 1, 3}, DType::I32);
  CHECK_THROWS_WITH(linear_recurrence(ints, ints), Catch::Contains("floating or complex"));
  CHECK_THROWS_WITH(linear_recurrence(a, a, {}, {Direction::Forward, nullptr, -1}), Catch::Contains("chunk_length"));
  CHECK_THROWS_WITH(linear_recurrence(a, a, {}, {Direction::Forward, nullptr, 0, Tensor::zeros({2, 3, 5}, DType::F64)}),
                    Catch::Contains("tensor 'out': expected contiguous float32 [2, 3, 5]"));
}

TEST_CASE("scan: the CUDA kernel equals the CPU path", "[scan][cuda]") {
  if (!cuda_available()) {
    WARN("SKIPPED: " << cuda_status());
    return;
  }
  const Device gpu = Device::cuda();
  std::uint32_t seed = 100;
  // Lengths around the kernel's tiles (128 threads x 2..8 items) and segment boundaries.
  const std::int64_t lengths[] = {0, 1, 2, 31, 255, 256, 257, 1023, 1024, 1025, 2049, 4097, 30000, 100003};
  for (DType dtype : {DType::F32, DType::F64, DType::C64, DType::C128, DType::BF16, DType::F16})
    for (Direction dir : {Direction::Forward, Direction::Reverse})
      for (std::int64_t L : lengths)
        for (std::int64_t chunk : {std::int64_t(0), std::int64_t(1000)}) {
          const std::int64_t B = 1 + seed % 2, D = L > 10000 ? 1 + seed % 2 : 1 + seed % 37;
          const DType wide = is_complex(dtype) ? DType::C128 : DType::F64;
          const bool half = dtype == DType::BF16 || dtype == DType::F16;
          Problem p = random_problem(B, D, L, half ? DType::F32 : dtype, seed++);
          const Tensor a = p.a.to(dtype), b = p.b.to(dtype), h0 = half ? p.h0 : p.h0.to(dtype);
          const auto want = linear_recurrence_sequential(a.to(wide), b.to(wide), h0.to(wide), dir);
          const auto got = linear_recurrence(a.to(gpu), b.to(gpu), h0.to(gpu), {dir, nullptr, chunk});
          INFO(dtype_name(dtype) << " L " << L << " B " << B << " D " << D << " chunk " << chunk
                                 << (dir == Direction::Reverse ? " reverse" : " forward"));
          const double tol = dtype == DType::F64 || dtype == DType::C128 ? 1e-12 : 1e-4;
          CHECK(got.h.device() == gpu);
          CHECK(max_rel_diff(got.h, want.h) < tol);
          CHECK(max_rel_diff(got.final_state, want.final_state) < tol);
        }
}

TEST_CASE("scan: CUDA takes broadcast decays and rejects non-unit length strides", "[scan][cuda]") {
  if (!cuda_available()) {
    WARN("SKIPPED: " << cuda_status());
    return;
  }
  const Device gpu = Device::cuda();
  const Problem p = random_problem(2, 5, 3000, DType::F32, 3);
  const Tensor a = p.a.slice(1, 0, 1).to(gpu).expand({2, 5, 3000});
  const auto want = linear_recurrence_sequential(p.a.slice(1, 0, 1).expand({2, 5, 3000}).contiguous(), p.b, p.h0);
  const auto got = linear_recurrence(a, p.b.to(gpu), p.h0.to(gpu));
  CHECK(max_rel_diff(got.h, want.h) < 1e-4);
  const Tensor t = Tensor::zeros({1, 4, 2}, DType::F32, gpu).transpose(1, 2);
  CHECK_THROWS_WITH(linear_recurrence(t, t), Catch::Contains("unit stride along length"));
  CHECK_THROWS_WITH(linear_recurrence(p.a.to(gpu), p.b), Catch::Contains("tensor 'b' is on cpu"));
}
