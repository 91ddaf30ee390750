#include "ssm/hippo.hpp"

#include <cmath>
#include <numbers>

#include "core/check.hpp"

namespace subq::ssm {

HippoMeasure parse_hippo_measure(const std::string& name) {
  if (name == "legs") return HippoMeasure::LegS;
  if (name == "legt") return HippoMeasure::LegT;
  if (name == "lagt") return HippoMeasure::LagT;
  if (name == "fout") return HippoMeasure::FouT;
  SUBQ_FAIL("HiPPO measure '{}': expected legs, legt, lagt or fout", name);
}

namespace {

// Fourier basis (1, cos 1, sin 1, cos 2, sin 2, ...) up to order N: each frequency f couples its
// cosine and sine with strength pi*f; the rank-one term B B^T stands for the window's other end.
void fill_fout(std::int64_t N, double* A, double* B) {
  for (std::int64_t n = 0; n < N; ++n) B[n] = n == 0 ? 1.0 : (n % 2 == 0 ? std::sqrt(2.0) : 0.0);
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t k = 0; k < N; ++k) A[n * N + k] = -B[n] * B[k];
  for (std::int64_t n = 2; n + 1 < N; n += 2) {
    const double coupling = std::numbers::pi * double(n / 2);
    A[n * N + n + 1] -= coupling;
    A[(n + 1) * N + n] += coupling;
  }
}

}  // namespace

HippoTransition hippo_transition(HippoMeasure measure, std::int64_t N) {
  SUBQ_CHECK(N >= 1, "hippo_transition: order N must be >= 1, found {}", N);
  SUBQ_CHECK(measure != HippoMeasure::FouT || N % 2 == 0, "hippo_transition: fout needs an even order, found {}", N);
  Tensor A = Tensor::zeros({N, N}, DType::F64), B = Tensor::zeros({N}, DType::F64);
  double* a = A.data<double>();
  double* b = B.data<double>();
  auto r = [](std::int64_t n) { return std::sqrt(2.0 * double(n) + 1.0); };
  switch (measure) {
    case HippoMeasure::LegS:
      for (std::int64_t n = 0; n < N; ++n) {
        b[n] = r(n);
        for (std::int64_t k = 0; k < n; ++k) a[n * N + k] = -r(n) * r(k);
        a[n * N + n] = -double(n + 1);
      }
      break;
    case HippoMeasure::LegT:
      // Halved relative to the LegT paper so that the window length matches the timescale.
      for (std::int64_t n = 0; n < N; ++n) {
        b[n] = 0.5 * r(n);
        for (std::int64_t k = 0; k < N; ++k) a[n * N + k] = -0.5 * r(n) * r(k) * (n < k && (k - n) % 2 ? -1.0 : 1.0);
      }
      break;
    case HippoMeasure::LagT:
      for (std::int64_t n = 0; n < N; ++n) {
        b[n] = 1.0;
        for (std::int64_t k = 0; k <= n; ++k) a[n * N + k] = (n == k ? 0.5 : 0.0) - 1.0;
      }
      break;
    case HippoMeasure::FouT:
      fill_fout(N, a, b);
      break;
  }
  return {A, B};
}

}  // namespace subq::ssm
