// The FFT interface (whichever backend the build chose) and the long convolutions on top of it.
#include <catch2/catch.hpp>

#include <cmath>
#include <complex>
#include <random>
#include <vector>

#include "conv/fft_conv.hpp"
#include "conv/real_fft.hpp"
#include "tests/testing.hpp"

using namespace subq;
using subq::testing::random_tensor;

namespace {

using cd = std::complex<double>;
cd at(const Tensor& t, std::int64_t i) { return {t.data<complex128>()[i].re, t.data<complex128>()[i].im}; }

template <class T>
void check_real_fft(std::int64_t n, double tolerance) {
  std::mt19937 rng(static_cast<std::uint32_t>(n));
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<T> x(static_cast<std::size_t>(2 * n));  // read with step 2
  for (T& v : x) v = T(u(rng));
  conv::RealFft<T> fft(n);
  std::vector<std::complex<T>> spectrum(static_cast<std::size_t>(fft.bins()));
  fft.forward(x.data(), 2, n, spectrum.data());
  for (std::int64_t k = 0; k < fft.bins(); ++k) {
    cd want = 0;
    for (std::int64_t t = 0; t < n; ++t) want += double(x[2 * t]) * std::polar(1.0, -2 * M_PI * double(k * t) / double(n));
    CHECK(std::abs(cd(spectrum[k]) - want) < tolerance * double(n));
  }
  std::vector<T> back(static_cast<std::size_t>(n));
  fft.inverse(spectrum.data(), back.data());
  for (std::int64_t t = 0; t < n; ++t) CHECK(std::abs(double(back[t]) - double(x[2 * t])) < tolerance);
}

}  // namespace

TEST_CASE("real fft: equals the DFT and inverts it, float and double", "[conv]") {
  INFO("backend " << conv::RealFft<float>::backend());
  for (const std::int64_t n : {1, 2, 7, 64, 100, 1000}) {
    INFO("n " << n);
    check_real_fft<double>(n, 1e-12);
    check_real_fft<float>(n, 1e-5);
  }
}

TEST_CASE("fft causal conv: equals the direct sum, for kernels shorter and longer than x", "[conv]") {
  std::mt19937 rng(3);
  for (const std::int64_t L : {1, 7, 64})
    for (const std::int64_t Lk : {1, 5, 100}) {
      const Tensor x = random_tensor({2, 3, L}, DType::F64, rng, -1, 1), k = random_tensor({2, 3, Lk}, DType::F64, rng, -1, 1);
      const Tensor y = conv::fft_causal_conv(x, k);
      REQUIRE(y.shape() == Shape{2, 2, 3, L});
      for (std::int64_t b = 0; b < 2; ++b)
        for (std::int64_t c = 0; c < 2; ++c)
          for (std::int64_t h = 0; h < 3; ++h)
            for (std::int64_t t = 0; t < L; ++t) {
              double want = 0;
              for (std::int64_t s = 0; s <= t && s < Lk; ++s)
                want += k.data<double>()[(c * 3 + h) * Lk + s] * x.data<double>()[(b * 3 + h) * L + t - s];
              CHECK(y.data<double>()[((b * 2 + c) * 3 + h) * L + t] == Approx(want).margin(1e-12));
            }
    }
}

TEST_CASE("irfft: equals the inverse DFT of the Hermitian extension", "[conv]") {
  std::mt19937 rng(4);
  for (const std::int64_t n : {1, 6, 7, 12}) {
    const Tensor spectrum = random_tensor({n / 2 + 1}, DType::C128, rng, -1, 1);
    const Tensor x = conv::irfft(spectrum, n);
    for (std::int64_t t = 0; t < n; ++t) {
      double want = at(spectrum, 0).real();
      for (std::int64_t k = 1; k < (n + 1) / 2; ++k)
        want += 2 * (at(spectrum, k) * std::polar(1.0, 2 * M_PI * double(k * t) / double(n))).real();
      if (n % 2 == 0 && n > 1) want += at(spectrum, n / 2).real() * (t % 2 ? -1 : 1);
      CHECK(x.data<double>()[t] == Approx(want / double(n)).margin(1e-12));
    }
  }
}


TEST_CASE("fft causal conv and irfft: cuFFT gives the CPU's results", "[conv][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(5);
  for (const DType dtype : {DType::F32, DType::F64})
    for (const std::int64_t channels : {1, 3})
      for (const std::int64_t L : {1, 7, 1000})
        for (const std::int64_t Lk : {1, 5, 1200}) {
          INFO(dtype_name(dtype) << " channels " << channels << " L " << L << " Lk " << Lk);
          const Tensor x = random_tensor({2, 4, L}, dtype, rng, -1, 1), k = random_tensor({channels, 4, Lk}, dtype, rng, -1, 1);
          // x as a transposed view: the CUDA path gathers it first.
          const Tensor x_view = x.to(Device::cuda()).transpose(0, 1).contiguous().transpose(0, 1);
          const Tensor y = conv::fft_causal_conv(x_view, k.to(Device::cuda()));
          REQUIRE(y.device().is_cuda());
          REQUIRE(y.dtype() == dtype);
          CHECK(subq::testing::max_rel_diff(y, conv::fft_causal_conv(x, k)) < (dtype == DType::F64 ? 1e-10 : 1e-4));
        }
  for (const std::int64_t n : {1, 6, 7, 4096}) {
    INFO("irfft n " << n);
    const Tensor spectrum = random_tensor({3, n / 2 + 1}, DType::C128, rng, -1, 1);
    const Tensor x = conv::irfft(spectrum.to(Device::cuda()), n);
    REQUIRE(x.device().is_cuda());
    CHECK(subq::testing::max_rel_diff(x, conv::irfft(spectrum, n)) < 1e-12);
  }
  CHECK_THROWS_WITH(conv::fft_causal_conv(Tensor::zeros({1, 2, 8}, DType::F32, Device::cuda()), Tensor::zeros({1, 2, 8}, DType::F32)),
                    Catch::Contains("k is on cpu, the input on cuda:0"));
  CHECK_THROWS_WITH(conv::irfft(Tensor::zeros({3, 5}, DType::C64, Device::cuda()), 8),
                    Catch::Contains("irfft: on cuda:0: expected complex128, found complex64"));
}
