#include "ssm/hippo.hpp"

#include <Eigen/Eigenvalues>
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

HippoNplr hippo_nplr(HippoMeasure measure, std::int64_t N) {
  SUBQ_CHECK(measure == HippoMeasure::LegS, "hippo_nplr: only legs has a rank-one NPLR form here");
  SUBQ_CHECK(N >= 2 && N % 2 == 0, "hippo_nplr: order N must be even and >= 2, found {}", N);
  const HippoTransition t = hippo_transition(measure, N);
  Eigen::VectorXd p(N), b = Eigen::Map<const Eigen::VectorXd>(t.B.data<double>(), N);
  for (std::int64_t n = 0; n < N; ++n) p[n] = std::sqrt(double(n) + 0.5);
  const Eigen::MatrixXd AP = Eigen::Map<const Eigen::Matrix<double, -1, -1, Eigen::RowMajor>>(t.A.data<double>(), N, N) + p * p.transpose();
  // AP = -I/2 + S with S skew-symmetric: the real part of every eigenvalue is the mean diagonal, the
  // imaginary parts are the eigenvalues of the Hermitian -iS.
  const double w_re = AP.diagonal().mean();
  Eigen::MatrixXd S = AP;
  S.diagonal().setZero();
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXcd> eig(std::complex<double>(0, -1) * S.cast<std::complex<double>>());
  SUBQ_CHECK(eig.info() == Eigen::Success, "hippo_nplr: the eigendecomposition of order {} did not converge", N);
  const std::int64_t half = N / 2;
  const Eigen::MatrixXcd V = eig.eigenvectors().leftCols(half);  // ascending: the negative half
  const Eigen::VectorXcd P = V.adjoint() * p.cast<std::complex<double>>(), B = V.adjoint() * b.cast<std::complex<double>>();
  HippoNplr r{Tensor::empty({half}, DType::C128), Tensor::empty({1, half}, DType::C128), Tensor::empty({half}, DType::C128),
              Tensor::empty({N, half}, DType::C128)};
  for (std::int64_t k = 0; k < half; ++k) {
    r.w.data<complex128>()[k] = {w_re, eig.eigenvalues()[k]};
    r.P.data<complex128>()[k] = {P[k].real(), P[k].imag()};
    r.B.data<complex128>()[k] = {B[k].real(), B[k].imag()};
    for (std::int64_t n = 0; n < N; ++n) r.V.data<complex128>()[n * half + k] = {V(n, k).real(), V(n, k).imag()};
  }
  return r;
}

DiagonalInit parse_diagonal_init(const std::string& name) {
  if (name == "legs") return DiagonalInit::LegS;
  if (name == "inv") return DiagonalInit::Inv;
  if (name == "lin") return DiagonalInit::Lin;
  SUBQ_FAIL("S4D initialisation '{}': expected legs, inv or lin", name);
}

Tensor s4d_diagonal_A(DiagonalInit init, std::int64_t N) {
  SUBQ_CHECK(N >= 2 && N % 2 == 0, "s4d_diagonal_A: state size N must be even and >= 2, found {}", N);
  if (init == DiagonalInit::LegS) return hippo_nplr(HippoMeasure::LegS, N).w;
  Tensor A = Tensor::empty({N / 2}, DType::C128);
  for (std::int64_t n = 0; n < N / 2; ++n) {
    const double imag = init == DiagonalInit::Lin ? std::numbers::pi * double(n)
                                                  : double(N) / std::numbers::pi * (double(N) / double(2 * n + 1) - 1);
    A.data<complex128>()[n] = {-0.5, -imag};
  }
  return A;
}

}  // namespace subq::ssm
