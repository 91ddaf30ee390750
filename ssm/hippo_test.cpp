#include <catch2/catch.hpp>

#include <cmath>

#include "ssm/hippo.hpp"

using namespace subq;
using namespace subq::ssm;

namespace {
double at(const Tensor& A, std::int64_t n, std::int64_t k) { return A.data<double>()[n * A.size(1) + k]; }
}  // namespace

TEST_CASE("hippo: LegS plus its rank-one correction is -I/2 plus a skew-symmetric matrix", "[ssm][hippo]") {
  // The normal-plus-low-rank structure S4 relies on: A + P P^T with P[n] = sqrt(n + 1/2).
  const std::int64_t N = 17;
  const Tensor A = hippo_transition(HippoMeasure::LegS, N).A;
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t k = 0; k < N; ++k) {
      const double s_nk = at(A, n, k) + std::sqrt((n + 0.5) * (k + 0.5)) + (n == k ? 0.5 : 0.0);
      const double s_kn = at(A, k, n) + std::sqrt((n + 0.5) * (k + 0.5)) + (n == k ? 0.5 : 0.0);
      CHECK(s_nk == Approx(-s_kn).margin(1e-12));
    }
}

TEST_CASE("hippo: LagT and LegT structure", "[ssm][hippo]") {
  const HippoTransition lagt = hippo_transition(HippoMeasure::LagT, 5);
  CHECK(at(lagt.A, 3, 3) == -0.5);
  CHECK(at(lagt.A, 3, 1) == -1.0);
  CHECK(at(lagt.A, 1, 3) == 0.0);
  const HippoTransition legt = hippo_transition(HippoMeasure::LegT, 4);
  CHECK(at(legt.A, 0, 1) == Approx(0.5 * std::sqrt(3.0)));   // odd offset above the diagonal flips sign
  CHECK(at(legt.A, 0, 2) == Approx(-0.5 * std::sqrt(5.0)));  // even offset does not
  CHECK(legt.B.data<double>()[3] == Approx(0.5 * std::sqrt(7.0)));
}

TEST_CASE("hippo: FouT is skew-symmetric up to its rank-one term", "[ssm][hippo]") {
  const HippoTransition t = hippo_transition(HippoMeasure::FouT, 10);
  const double* B = t.B.data<double>();
  for (std::int64_t n = 0; n < 10; ++n)
    for (std::int64_t k = 0; k < 10; ++k)
      CHECK(at(t.A, n, k) + B[n] * B[k] == Approx(-(at(t.A, k, n) + B[k] * B[n])).margin(1e-12));
}

TEST_CASE("hippo: bad measure or order is named", "[ssm][hippo]") {
  CHECK_THROWS_WITH(parse_hippo_measure("fourier"), Catch::Contains("HiPPO measure 'fourier'"));
  CHECK_THROWS_WITH(hippo_transition(HippoMeasure::FouT, 7), Catch::Contains("even order, found 7"));
  CHECK_THROWS_WITH(hippo_transition(HippoMeasure::LegS, 0), Catch::Contains("found 0"));
}
