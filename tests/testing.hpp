#pragma once
// Helpers shared by the unit tests: random tensors and a relative comparison.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/device.hpp"
#include "core/tensor.hpp"

/// Ends a CUDA test early, visibly skipped (ctest reads "SKIPPED:"), where no GPU can be used.
#define SUBQ_SKIP_WITHOUT_CUDA()                            \
  do {                                                      \
    if (!::subq::cuda_available()) {                        \
      WARN("SKIPPED: " << ::subq::cuda_status());           \
      return;                                               \
    }                                                       \
  } while (0)

namespace subq::testing {

/// Uniform in [lo, hi) (each part, for complex dtypes), on the CPU.
inline Tensor random_tensor(const Shape& shape, DType dtype, std::mt19937& rng, double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  Tensor t = Tensor::empty(shape, DType::C128);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<complex128>()[i] = {u(rng), is_complex(dtype) ? u(rng) : 0.0};
  if (is_complex(dtype)) return t.to(dtype);
  Tensor re = Tensor::empty(shape, DType::F64);
  for (std::int64_t i = 0; i < t.numel(); ++i) re.data<double>()[i] = t.data<complex128>()[i].re;
  return re.to(dtype);
}

/// Largest |x - y| / (1 + |y|) over all elements (both compared as complex128); NaN is infinite.
inline double max_rel_diff(const Tensor& x, const Tensor& y) {
  REQUIRE(x.shape() == y.shape());
  const Tensor xc = x.to(Device::cpu()).to(DType::C128).contiguous(), yc = y.to(Device::cpu()).to(DType::C128).contiguous();
  double worst = 0;
  for (std::int64_t i = 0; i < xc.numel(); ++i) {
    const complex128 p = xc.data<complex128>()[i], q = yc.data<complex128>()[i];
    const double d = std::hypot(p.re - q.re, p.im - q.im) / (1 + std::hypot(q.re, q.im));
    worst = std::max(worst, std::isnan(d) ? INFINITY : d);
  }
  return worst;
}

}  // namespace subq::testing
