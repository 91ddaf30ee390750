#pragma once
// HiPPO transition matrices (A, B) of the continuous-time system x'(t) = A x(t) + B u(t) that
// projects the history of u onto a polynomial basis under a measure, as state-spaces/s4 defines
// them (models/s4/s4.py `transition`):
//   legs  scaled Legendre     A[n,k] = -sqrt((2n+1)(2k+1)) (n > k), -(n+1) (n = k), 0 (n < k); B[n] = sqrt(2n+1)
//   legt  translated Legendre A[n,k] = -R_n R_k (n >= k or (-1)^(n-k) above) / 2, R_n = sqrt(2n+1); B = R / 2
//   lagt  translated Laguerre A = I/2 - tril(ones); B = 1
//   fout  translated Fourier  A = pi * (sub-diagonal frequencies - super-diagonal) - B B^T;
//                             B = (1, 0, sqrt2, 0, sqrt2, 0, ...)
#include <string>

#include "../core/tensor.hpp"

namespace subq::ssm {

enum class HippoMeasure { LegS, LegT, LagT, FouT };

/// Parses "legs", "legt", "lagt" or "fout"; throws subq::Error naming the text otherwise.
HippoMeasure parse_hippo_measure(const std::string& name);

struct HippoTransition {
  Tensor A;  // (N, N) float64
  Tensor B;  // (N) float64
};

/// The transition matrices of order N (N >= 1; even for fout).
HippoTransition hippo_transition(HippoMeasure measure, std::int64_t N);

/// The normal-plus-low-rank form of LegS (s4's `nplr`): A = V (diag(w) - P P^*) V^* on the
/// conjugate-pair-halved eigenbasis V, with A + p p^T (p[n] = sqrt(n + 1/2)) = -I/2 + skew.
/// Each eigenvector is unique up to a phase; V, P and B share the phase eigen's solver picks.
struct HippoNplr {
  Tensor w;  // (N/2) complex128: -1/2 + i*lambda, lambda < 0 ascending (one of each conjugate pair)
  Tensor P;  // (1, N/2) complex128: V^* p
  Tensor B;  // (N/2) complex128: V^* B, not clipped
  Tensor V;  // (N, N/2) complex128: the eigenvectors
};

/// The NPLR form of LegS of even order N >= 2.
HippoNplr hippo_nplr(HippoMeasure measure, std::int64_t N);

/// Diagonal (S4D) initialisations of A: (N/2) complex128, all with real part -1/2:
///   legs  the NPLR eigenvalues w (S4D-LegS)
///   inv   -1/2 - i N/pi (N/(2n+1) - 1)        (S4D-Inv)
///   lin   -1/2 - i pi n                        (S4D-Lin)
enum class DiagonalInit { LegS, Inv, Lin };
DiagonalInit parse_diagonal_init(const std::string& name);
Tensor s4d_diagonal_A(DiagonalInit init, std::int64_t N);

}  // namespace subq::ssm
