// The dense layers' CUDA paths against the CPU path, their spec: strided inputs, odd sizes, a
// single row, with and without bias and gate.
#include <catch2/catch.hpp>
#include <random>
#include <tuple>

#include "core/dense.hpp"
#include "tests/testing.hpp"

using namespace subq;
using subq::testing::max_rel_diff;
using subq::testing::random_tensor;

TEST_CASE("scale: each element times the factor in float64, rounded once", "[core][dense]") {
  std::mt19937 rng(3);
  const Tensor x = random_tensor({5, 7}, DType::F32, rng, -2, 2).transpose(0, 1);
  const Tensor y = subq::scale(x, 1.0 / 3.0);
  REQUIRE(y.shape() == Shape{7, 5});
  REQUIRE(y.dtype() == DType::F32);
  const Tensor xc = x.contiguous();
  for (std::int64_t i = 0; i < y.numel(); ++i) CHECK(y.data<float>()[i] == float(double(xc.data<float>()[i]) * (1.0 / 3.0)));
}

TEST_CASE("linear: few rows split the weight by output features, many rows split the rows", "[core][dense]") {
  // A decoding step's single row against a large weight takes the first split, a batch of rows the
  // second; both equal the float64 definition, bias included.
  std::mt19937 rng(5);
  const std::int64_t in = 300, out = 1000;
  const Tensor w = random_tensor({out, in}, DType::F32, rng, -1, 1), b = random_tensor({out}, DType::F32, rng, -1, 1);
  for (const std::int64_t rows : {1, 3, 100}) {
    INFO(rows << " rows");
    const Tensor x = random_tensor({rows, in}, DType::F32, rng, -1, 1);
    const Tensor want = linear(x.to(DType::F64), w.to(DType::F64), b.to(DType::F64));
    CHECK(max_rel_diff(linear(x, w, b), want) < 1e-5);
  }
}

TEST_CASE("dense layers: CUDA equals the CPU", "[core][dense][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  const Device gpu = Device::cuda();
  std::mt19937 rng(4);
  for (const std::int64_t rows : {1, 7, 300})
    for (const std::int64_t dim : {1, 33, 1000}) {
      INFO("rows " << rows << " dim " << dim);
      // x is a transposed view, as the mixers pass their convolution outputs.
      const Tensor x = random_tensor({2, dim, rows}, DType::F32, rng, -2, 2).transpose(1, 2);
      const Tensor w = random_tensor({65, dim}, DType::F32, rng, -1, 1), bias = random_tensor({65}, DType::F32, rng, -1, 1);
      // Float32 sums of up to 1000 products, added in another order by cuBLAS.
      CHECK(max_rel_diff(linear(x.to(gpu), w.to(gpu), bias.to(gpu)), linear(x, w, bias)) < 1e-4);
      CHECK(max_rel_diff(linear(x.to(gpu), w.to(gpu)), linear(x, w)) < 1e-4);
      const Tensor x64 = x.to(DType::F64), w64 = w.to(DType::F64), bias64 = bias.to(DType::F64);
      CHECK(max_rel_diff(linear(x64.to(gpu), w64.to(gpu), bias64.to(gpu)), linear(x64, w64, bias64)) < 1e-12);
      CHECK(max_rel_diff(subq::scale(x.to(gpu), 0.3), subq::scale(x, 0.3)) == 0);
      CHECK(max_rel_diff(subq::scale(x64.to(gpu), 0.3), subq::scale(x64, 0.3)) == 0);

      const Tensor scale = random_tensor({dim}, DType::F32, rng, 0.5, 1.5);
      const Tensor gate = random_tensor({2, dim, rows}, DType::F32, rng, -3, 3).transpose(1, 2);
      CHECK(max_rel_diff(rms_norm(x.to(gpu), scale.to(gpu), 1e-5), rms_norm(x, scale, 1e-5)) < 1e-5);
      CHECK(max_rel_diff(rms_norm(x.to(gpu), scale.to(gpu), 1e-5, gate.to(gpu)), rms_norm(x, scale, 1e-5, gate)) < 1e-5);

      for (const std::int64_t groups : {std::int64_t(1), dim == 1000 ? std::int64_t(8) : dim}) {
        INFO("groups " << groups);
        CHECK(max_rel_diff(group_norm(x.to(gpu), groups, scale.to(gpu), gate.select(0, 0).select(0, 0).to(gpu), 1e-5),
                           group_norm(x, groups, scale, gate.select(0, 0).select(0, 0), 1e-5)) < 1e-4);
      }
      CHECK(max_rel_diff(layer_norm(x.to(gpu), scale.to(gpu), {}, 1e-5), layer_norm(x, scale, {}, 1e-5)) < 1e-4);
      const Tensor heads = random_tensor({2, rows, 3, 2 * (dim / 2 + 1)}, DType::F32, rng, -2, 2);
      CHECK(max_rel_diff(rotary(heads.to(gpu), 7, 500.0), rotary(heads, 7, 500.0)) < 1e-6);
      const std::int64_t part = 2 * ((dim / 2 + 1) / 2);  // RecurrentGemma's half of each head, rounded to pairs
      CHECK(max_rel_diff(rotary(heads.to(gpu), 7, 500.0, part), rotary(heads, 7, 500.0, part)) < 1e-6);

      const Tensor h = x.contiguous().clone(), h_gpu = x.to(gpu);
      add_into(h, gate);
      add_into(h_gpu, gate.to(gpu));
      CHECK(max_rel_diff(h_gpu, h) == 0);
    }
  const Tensor table = random_tensor({50, 24}, DType::F32, rng, -1, 1);
  const Tensor ids = Tensor::from_vector<std::int64_t>({0, 49, 7, 7, 3, 12}, {2, 3});
  CHECK(max_rel_diff(embedding(table.to(gpu), ids), embedding(table, ids)) == 0);
  CHECK_THROWS_WITH(embedding(table.to(gpu), Tensor::from_vector<std::int64_t>({2, 50}, {2})),
                    Catch::Contains("id 50 at position 1 is outside the vocabulary [0, 50)"));
}

TEST_CASE("dense layers: operands on different devices are named", "[core][dense][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  const Tensor x = Tensor::zeros({2, 4}, DType::F32), w = Tensor::zeros({3, 4}, DType::F32);
  CHECK_THROWS_WITH(linear(x.to(Device::cuda()), w), Catch::Contains("linear: weight is on cpu, the input on cuda:0"));
  CHECK_THROWS_WITH(linear(x, w.to(Device::cuda())), Catch::Contains("linear: weight on cuda:0: runs on the CPU only"));
  CHECK_THROWS_WITH(linear(x.to(DType::F64).to(Device::cuda()), w.to(Device::cuda())),
                    Catch::Contains("linear on cuda:0: weight: expected float64, found float32"));
  CHECK_THROWS_WITH(linear(x.to(DType::BF16).to(Device::cuda()), w.to(DType::BF16).to(Device::cuda())),
                    Catch::Contains("linear: x: expected float32 or float64, found bfloat16"));
}

namespace {

// block_diagonal_linear by its definition, in float64.
Tensor block_diagonal_by_definition(const Tensor& x, const Tensor& w, const Tensor& bias) {
  const std::int64_t blocks = w.size(0), in = w.size(1), out = w.size(2), rows = x.numel() / (blocks * in);
  const Tensor xd = x.to(DType::F64).contiguous(), wd = w.to(DType::F64).contiguous();
  Tensor y = Tensor::zeros({rows, blocks * out}, DType::F64);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t b = 0; b < blocks; ++b)
      for (std::int64_t j = 0; j < out; ++j) {
        double sum = bias.defined() ? bias.to(DType::F64).data<double>()[b * out + j] : 0.0;
        for (std::int64_t i = 0; i < in; ++i)
          sum += xd.data<double>()[r * blocks * in + b * in + i] * wd.data<double>()[(b * in + i) * out + j];
        y.data<double>()[r * blocks * out + b * out + j] = sum;
      }
  return y;
}

}  // namespace

TEST_CASE("block_diagonal_linear: each block of inputs through its own matrix", "[core][dense]") {
  std::mt19937 rng(21);
  for (const auto& [blocks, in, out] : {std::tuple{3, 4, 4}, std::tuple{2, 5, 3}, std::tuple{1, 8, 2}}) {
    INFO(blocks << " blocks of " << in << " -> " << out);
    const Tensor x = random_tensor({2, 7, blocks * in}, DType::F64, rng, -1, 1);
    const Tensor w = random_tensor({blocks, in, out}, DType::F64, rng, -1, 1),
                 b = random_tensor({blocks * out}, DType::F64, rng, -1, 1);
    const Tensor want = block_diagonal_by_definition(x, w, b);
    CHECK(max_rel_diff(block_diagonal_linear(x, w, b).view({14, blocks * out}), want) < 1e-14);
    CHECK(max_rel_diff(
              block_diagonal_linear(x.to(DType::F32), w.to(DType::F32), b.to(DType::F32)).view({14, blocks * out}),
              want) < 1e-5);
  }
  const Tensor w = Tensor::zeros({2, 3, 3}, DType::F32);
  CHECK_THROWS_WITH(block_diagonal_linear(Tensor::zeros({4, 5}, DType::F32), w),
                    Catch::Contains("block_diagonal_linear: x: expected (..., 6) for 2 blocks of 3, found [4, 5]"));
}

TEST_CASE("block_diagonal_linear: CUDA equals the CPU", "[core][dense][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(22);
  const Tensor x = random_tensor({3, 5, 12}, DType::F32, rng, -1, 1),
               w = random_tensor({3, 4, 2}, DType::F32, rng, -1, 1);
  const Tensor b = random_tensor({6}, DType::F32, rng, -1, 1);
  const Tensor got = block_diagonal_linear(x.to(Device::cuda()), w.to(Device::cuda()), b.to(Device::cuda()));
  REQUIRE(got.device().is_cuda());
  CHECK(max_rel_diff(got, block_diagonal_linear(x, w, b)) < 1e-6);
  CHECK(max_rel_diff(block_diagonal_linear(x.to(Device::cuda()), w.to(Device::cuda())), block_diagonal_linear(x, w)) <
        1e-6);
}

TEST_CASE("rotary: partial rotary turns the leading dims as a head of that size, and passes the rest",
          "[core][dense]") {
  std::mt19937 rng(23);
  const Tensor x = random_tensor({2, 5, 3, 8}, DType::F32, rng, -2, 2);
  const Tensor partial = rotary(x, 4, 100.0, 4);
  CHECK(max_rel_diff(partial.slice(3, 0, 4), rotary(x.slice(3, 0, 4).contiguous(), 4, 100.0)) == 0);
  CHECK(max_rel_diff(partial.slice(3, 4, 8), x.slice(3, 4, 8)) == 0);
  CHECK(max_rel_diff(rotary(x, 4, 100.0, 8), rotary(x, 4, 100.0)) == 0);
  CHECK_THROWS_WITH(rotary(x, 0, 100.0, 5), Catch::Contains("rotary: 5 rotary dims of heads of 8"));
}
