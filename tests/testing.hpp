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

/// How many of t's elements are NaN or infinite (any real dtype, any device).
inline std::int64_t non_finite_count(const Tensor& t) {
  const Tensor d = t.to(Device::cpu()).to(DType::F64).contiguous();
  std::int64_t bad = 0;
  for (std::int64_t i = 0; i < d.numel(); ++i) bad += !std::isfinite(d.data<double>()[i]);
  return bad;
}

/// A CUDA result against its float64 CPU reference, for kernels whose outputs come in the inputs'
/// dtype and whose states are float32 (float64 for float64 inputs): float32 errors grow with the
/// `terms` products summed per value, and bfloat16 outputs carry their own rounding besides.
inline void check_cuda_result(const Tensor& out, const Tensor& want_out, const Tensor& state, const Tensor& want_state,
                              DType dtype, std::int64_t terms) {
  REQUIRE(out.device().is_cuda());
  CHECK(out.dtype() == dtype);
  const double tolerance = dtype == DType::F64 ? 1e-12 : 1e-4 * double(terms);
  CHECK(max_rel_diff(out, want_out) < (dtype == DType::BF16 ? 1e-2 + tolerance : tolerance));
  CHECK(max_rel_diff(state, want_state) < tolerance);
}

}  // namespace subq::testing
