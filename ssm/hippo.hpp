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

}  // namespace subq::ssm
