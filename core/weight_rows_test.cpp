// The compact weight formats: their byte layouts, the rounding of the quantisers, and linear() and
// embedding() reading them against the float64 product of the widened weight.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>

#include "core/dense.hpp"
#include "core/weight_rows.hpp"
#include "tests/testing.hpp"

using namespace subq;
using subq::testing::max_rel_diff;
using subq::testing::random_tensor;

namespace {

float half_at(const Tensor& t, std::size_t byte) {
  float16 h;
  std::memcpy(&h, static_cast<const char*>(t.raw_data()) + byte, 2);
  return to_float(h);
}

const std::uint8_t* bytes_of(const Tensor& t) { return static_cast<const std::uint8_t*>(t.raw_data()); }

}  // namespace

TEST_CASE("q8_0: a block is a float16 scale max|x| / 127 and 32 int8 codes", "[core][weights]") {
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i) x[i] = float(i * 8 - 127);  // -127 .. 121: d = 1, codes exact
  const Tensor q = Tensor::from_vector(x, {1, 32}).to(DType::Q8_0);
  REQUIRE(q.storage()->bytes() == 34);
  CHECK(half_at(q, 0) == 1.0f);
  for (int i = 0; i < 32; ++i) CHECK(std::int8_t(bytes_of(q)[2 + i]) == i * 8 - 127);
  CHECK(max_rel_diff(q.to(DType::F32), Tensor::from_vector(x, {1, 32})) == 0);
}

TEST_CASE("q4_0: the largest magnitude maps to code 0, nibbles hold elements j and j + 16", "[core][weights]") {
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i) x[i] = float(i % 16) - 8.0f;  // -8 .. 7 twice: d = -8 / -8 = 1
  const Tensor q = Tensor::from_vector(x, {1, 32}).to(DType::Q4_0);
  REQUIRE(q.storage()->bytes() == 18);
  CHECK(half_at(q, 0) == 1.0f);
  for (int j = 0; j < 16; ++j) {
    CHECK((bytes_of(q)[2 + j] & 15) == j);  // element j: -8 + j, code j
    CHECK((bytes_of(q)[2 + j] >> 4) == j);  // element j + 16: the same value
  }
  CHECK(max_rel_diff(q.to(DType::F32), Tensor::from_vector(x, {1, 32})) == 0);
}

TEST_CASE("quantisers: the error is at most half a step of each block's scale", "[core][weights]") {
  std::mt19937 rng(11);
  const Tensor x = random_tensor({3, 64}, DType::F32, rng, -3, 3);
  for (const DType format : {DType::Q8_0, DType::Q4_0}) {
    INFO(dtype_name(format));
    const Tensor q = x.to(format), back = q.to(DType::F32);
    const std::size_t block_bytes = storage_bytes(format, 32);
    for (std::int64_t b = 0; b < 6; ++b) {
      const float d = std::fabs(half_at(q, std::size_t(b) * block_bytes));
      // The codes are chosen with the exact scale and read back with the float16 one (relative
      // error 2^-11, times a code of up to 127 or 8); q4_0's code 15 clips the side opposite the
      // largest element by up to half a step more.
      const float bound = format == DType::Q8_0 ? (0.5f + 127.0f / 2048) * d : (1.0f + 8.0f / 2048) * d;
      for (int i = 0; i < 32; ++i)
        CHECK(std::fabs(back.data<float>()[b * 32 + i] - x.data<float>()[b * 32 + i]) <= bound);
    }
  }
}

TEST_CASE("quantisers: refuse what has no code", "[core][weights]") {
  std::vector<float> x(32, 1.0f);
  x[5] = std::nanf("");
  CHECK_THROWS_WITH(Tensor::from_vector(x, {1, 32}).to(DType::Q8_0),
                    Catch::Contains("element 5") && Catch::Contains("nan"));
  CHECK_THROWS_WITH(Tensor::zeros({2, 20}, DType::F32).to(DType::Q4_0), Catch::Contains("multiple of 32"));
  std::uint16_t half;
  const float big = 1e6f;
  CHECK_THROWS_WITH(detail::quantize_rows(DType::F16, &big, 1, 1, &half),
                    Catch::Contains("beyond float16's largest value"));
  CHECK_THROWS_WITH(dtype_size(DType::Q8_0), Catch::Contains("blocks of 32"));
}

TEST_CASE("dot_rows: every format against the widened rows, 1 to 4 vectors, ragged lengths", "[core][weights]") {
  std::mt19937 rng(12);
  for (const DType format : {DType::F32, DType::BF16, DType::F16, DType::Q8_0, DType::Q4_0})
    for (const std::int64_t n : {32, 96, 45}) {
      if (is_quantized(format) && n % 32) continue;
      const Tensor w = random_tensor({5, n}, DType::F32, rng, -1, 1).to(format);
      Tensor widened = Tensor::empty({5, n}, DType::F32);
      detail::widen_rows(format, w.raw_data(), n, 5, widened.data<float>());
      for (std::int64_t vectors = 1; vectors <= detail::kMaxDotVectors; ++vectors) {
        INFO(dtype_name(format) << " n " << n << " vectors " << vectors);
        const Tensor x = random_tensor({vectors, n}, DType::F32, rng, -1, 1);
        Tensor y = Tensor::empty({vectors, 5}, DType::F32);
        detail::dot_rows(format, w.raw_data(), n, 5, x.data<float>(), vectors, y.data<float>(), 5);
        CHECK(max_rel_diff(y, linear(x.to(DType::F64), widened.to(DType::F64))) < 1e-5);
      }
    }
}

TEST_CASE("linear and embedding read compact weights as their widened float32", "[core][weights][dense]") {
  // 1 and 3 rows take the dot path, 300 rows the widened panels (two row blocks); 130 output
  // features make three panels, the last one short.
  std::mt19937 rng(13);
  const std::int64_t in = 96, out = 130;
  const Tensor w32 = random_tensor({out, in}, DType::F32, rng, -1, 1),
               bias = random_tensor({out}, DType::F32, rng, -1, 1);
  for (const DType format : {DType::BF16, DType::F16, DType::Q8_0, DType::Q4_0}) {
    const Tensor w = w32.to(format), widened = w.to(DType::F32);
    for (const std::int64_t rows : {1, 3, 300}) {
      INFO(dtype_name(format) << " rows " << rows);
      const Tensor x = random_tensor({rows, in}, DType::F32, rng, -1, 1);
      const Tensor got = linear(x, w, bias);
      REQUIRE(got.dtype() == DType::F32);
      CHECK(max_rel_diff(got, linear(x.to(DType::F64), widened.to(DType::F64), bias.to(DType::F64))) < 1e-5);
    }
    const Tensor ids = Tensor::from_vector(std::vector<std::int64_t>{4, 0, 129, 4}, {2, 2});
    CHECK(max_rel_diff(embedding(w, ids), embedding(widened, ids)) == 0);
  }
  CHECK_THROWS_WITH(linear(random_tensor({1, in}, DType::F64, rng, -1, 1), w32.to(DType::BF16)),
                    Catch::Contains("multiplies float32 x"));
}

TEST_CASE("compact weights on CUDA: widened, looked up and multiplied as on the CPU", "[core][weights][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  // 1 and 4 rows take the dot-product kernel, 5 the widened matrix and cuBLAS; 96 inputs are
  // three q blocks, fewer than the kernel's threads per row, 320 more.
  std::mt19937 rng(14);
  const Device gpu = Device::cuda();
  for (const std::int64_t in : {96, 320})
    for (const DType format : {DType::BF16, DType::F16, DType::Q8_0, DType::Q4_0}) {
      const std::int64_t out = 37;
      const Tensor w = random_tensor({out, in}, DType::F32, rng, -1, 1).to(format), widened = w.to(DType::F32);
      const Tensor bias = random_tensor({out}, DType::F32, rng, -1, 1);
      const Tensor w_gpu = w.to(gpu);
      INFO(dtype_name(format) << " in " << in);
      CHECK(max_rel_diff(w_gpu.to(DType::F32).to(Device::cpu()), widened) == 0);
      CHECK(max_rel_diff(w_gpu.slice(0, 3, 9).to(DType::F32).to(Device::cpu()), widened.slice(0, 3, 9)) == 0);
      if (is_quantized(format))  // blocks are read as rows, as on the CPU
        CHECK_THROWS_WITH(w_gpu.transpose(0, 1).to(DType::F32), Catch::Contains("must be contiguous rows"));
      for (const std::int64_t rows : {1, 4, 5}) {
        INFO("rows " << rows);
        const Tensor x = random_tensor({rows, in}, DType::F32, rng, -1, 1);
        const Tensor got = linear(x.to(gpu), w_gpu, bias.to(gpu)).to(Device::cpu());
        CHECK(max_rel_diff(got, linear(x.to(DType::F64), widened.to(DType::F64), bias.to(DType::F64))) < 1e-5);
      }
      const Tensor ids = Tensor::from_vector(std::vector<std::int64_t>{4, 0, 36, 4}, {2, 2});
      CHECK(max_rel_diff(embedding(w_gpu, ids).to(Device::cpu()), embedding(widened, ids)) == 0);
    }
  // Quantising is the CPU's, whichever device holds the float32 rows.
  const Tensor x = random_tensor({3, 64}, DType::F32, rng, -1, 1);
  const Tensor on_gpu = x.to(gpu).to(DType::Q4_0).to(Device::cpu()), on_cpu = x.to(DType::Q4_0);
  CHECK(std::memcmp(on_gpu.raw_data(), on_cpu.raw_data(), storage_bytes(DType::Q4_0, x.numel())) == 0);
}
