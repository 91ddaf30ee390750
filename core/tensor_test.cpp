#include <catch2/catch.hpp>

#include <random>

#include "core/tensor.hpp"
#include "tests/testing.hpp"

using namespace subq;

TEST_CASE("tensor: views share storage and keep strides", "[core][tensor]") {
  std::vector<float> v(24);
  for (int i = 0; i < 24; ++i) v[i] = float(i);
  Tensor t = Tensor::from_vector(v, {2, 3, 4});
  CHECK(t.is_contiguous());
  CHECK(t.numel() == 24);

  Tensor tr = t.transpose(1, 2);  // (2, 4, 3)
  CHECK(tr.shape() == Shape{2, 4, 3});
  CHECK_FALSE(tr.is_contiguous());
  Tensor c = tr.contiguous();
  CHECK(c.is_contiguous());
  CHECK(c.data<float>()[1] == 4.0f);  // [0,0,1] of the transpose = [0,1,0] of t

  Tensor s = t.slice(2, 1, 3).select(0, 1);  // (3, 2): t[1, :, 1:3]
  CHECK(s.shape() == Shape{3, 2});
  CHECK(s.contiguous().data<float>()[0] == 13.0f);
  s.data<float>()[0] = -1.0f;
  CHECK(t.data<float>()[13] == -1.0f);

  CHECK(t.view({6, -1}).shape() == Shape{6, 4});
  CHECK(Tensor::zeros({1, 27, 0}, DType::F32).is_contiguous());
  CHECK_THROWS_WITH(tr.view({24}), Catch::Contains("contiguous"));
  CHECK_THROWS_WITH(t.view({5, 5}), Catch::Contains("cannot view"));
  CHECK_THROWS_AS(t.data<double>(), Error);
}

TEST_CASE("tensor: expand broadcasts with stride 0", "[core][tensor]") {
  Tensor t = Tensor::from_vector(std::vector<double>{1, 2, 3}, {1, 3});
  Tensor e = t.expand({4, 3});
  CHECK(e.stride(0) == 0);
  Tensor c = e.contiguous();
  CHECK(c.data<double>()[10] == 2.0);
  CHECK_THROWS_AS(t.expand({4, 2}), Error);
}

TEST_CASE("tensor: dtype conversion round-trips", "[core][tensor]") {
  Tensor f = Tensor::from_vector(std::vector<float>{1.0f, -2.5f, 3.140625f, 65504.0f, 1e-6f}, {5});
  Tensor bf = f.to(DType::BF16);
  Tensor h = f.to(DType::F16);
  Tensor back_bf = bf.to(DType::F32), back_h = h.to(DType::F32);
  for (int i = 0; i < 4; ++i) CHECK(back_bf.data<float>()[i] == Approx(f.data<float>()[i]).epsilon(1e-2));
  for (int i = 0; i < 4; ++i) CHECK(back_h.data<float>()[i] == Approx(f.data<float>()[i]).epsilon(1e-3));
  CHECK(back_h.data<float>()[4] == Approx(1.0133e-6f).epsilon(1e-4));  // f16 subnormal: 17 * 2^-24
  CHECK(back_h.data<float>()[3] == 65504.0f);

  Tensor i64 = Tensor::from_vector(std::vector<std::int64_t>{(1LL << 60) + 1}, {1});
  CHECK(i64.to(DType::I64).data<std::int64_t>()[0] == (1LL << 60) + 1);
  Tensor z = f.to(DType::C64);
  CHECK(z.data<complex64>()[1].re == -2.5f);
  CHECK(z.data<complex64>()[1].im == 0.0f);
  CHECK_THROWS_WITH(z.to(DType::F32), Catch::Contains("complex"));
}

TEST_CASE("tensor: bf16 and f16 conversions round to nearest even", "[core][dtype]") {
  CHECK(to_bfloat16(1.0f).bits == 0x3f80);
  CHECK(to_float(to_bfloat16(1.00390625f)) == 1.0f);       // halfway, rounds to even
  CHECK(to_float(to_bfloat16(1.01171875f)) == 1.015625f);  // halfway, rounds up to even
  CHECK(to_float16(1.0f).bits == 0x3c00);
  CHECK(to_float16(65520.0f).bits == 0x7c00);  // overflows to inf
  CHECK(to_float(to_float16(5.96046448e-08f)) == 5.96046448e-08f);  // smallest subnormal
  CHECK(std::isnan(to_float(to_float16(std::nanf("")))));
}

TEST_CASE("tensor: errors name the operation and the shapes", "[core][tensor]") {
  Tensor t = Tensor::zeros({2, 3}, DType::F32);
  CHECK_THROWS_WITH(t.slice(1, 2, 5), Catch::Contains("[2, 5) out of range") && Catch::Contains("[2, 3]"));
  CHECK_THROWS_WITH(t.select(3, 0), Catch::Contains("dimension 3 out of range"));
  CHECK_THROWS_WITH(Tensor::from_vector(std::vector<float>{1, 2}, {3}), Catch::Contains("holds 3 elements"));
  CHECK_THROWS_AS(Tensor::empty({-1}, DType::F32), Error);
}

TEST_CASE("device: parsing and CUDA availability are explicit", "[core][device]") {
  CHECK(parse_device("cpu").is_cpu());
  CHECK(parse_device("cuda:1").index == 1);
  CHECK_THROWS_WITH(parse_device("gpu"), Catch::Contains("expected cpu, cuda or cuda:N"));
  if (!cuda_available()) {
    CHECK_THROWS_AS(Tensor::zeros({2}, DType::F32, Device::cuda()), Error);
  } else {
    Tensor t = Tensor::from_vector(std::vector<float>{1, 2, 3}, {3});
    Tensor back = t.to(Device::cuda()).to(Device::cpu());
    CHECK(back.data<float>()[2] == 3.0f);
  }
}

TEST_CASE("tensor: strided CUDA views are gathered as on the CPU", "[core][tensor][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(3);
  for (const DType dtype : {DType::F32, DType::F64, DType::BF16, DType::C128}) {
    INFO(dtype_name(dtype));
    const Tensor x = testing::random_tensor({3, 5, 7, 2}, dtype, rng, -1, 1);
    const Tensor gpu = x.to(Device::cuda());
    auto check = [&](auto&& make) {
      const Tensor cpu_view = make(x).contiguous(), gpu_view = make(gpu).contiguous();
      REQUIRE(gpu_view.device().is_cuda());
      CHECK(testing::max_rel_diff(gpu_view, cpu_view) == 0);
    };
    check([](const Tensor& t) { return t.permute({2, 0, 3, 1}); });
    check([](const Tensor& t) { return t.slice(1, 1, 4).transpose(0, 2); });
    check([](const Tensor& t) { return t.select(3, 1); });
    check([](const Tensor& t) { return t.slice(2, 2, 3).expand({3, 5, 4, 2}); });
  }
}

TEST_CASE("tensor: CUDA dtype conversions round as the CPU's do", "[core][tensor][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(4);
  const std::vector<DType> floats{DType::F32, DType::F64, DType::BF16, DType::F16};
  for (const DType from : floats)
    for (const DType to : floats) {
      INFO(dtype_name(from) << " -> " << dtype_name(to));
      const Tensor x = testing::random_tensor({4, 9, 5}, from, rng, -3, 3);
      const Tensor view = x.transpose(0, 2).slice(1, 2, 7);
      const Tensor on_gpu = view.to(Device::cuda()).to(to);
      REQUIRE(on_gpu.device().is_cuda());
      REQUIRE(on_gpu.dtype() == to);
      CHECK(testing::max_rel_diff(on_gpu.to(Device::cpu()), view.to(to)) == 0);
    }
  CHECK_THROWS_WITH(Tensor::zeros({2}, DType::I64, Device::cuda()).to(DType::F32),
                    Catch::Contains("int64 is not a floating dtype"));
}
