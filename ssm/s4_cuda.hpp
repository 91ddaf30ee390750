#pragma once
// Internal: the CUDA launchers of the S4/S4D layer (ssm/s4.cu), in plain types, float64 and
// complex128 as on the CPU; ssm/s4.cpp prepares the per-state terms on the host, checks and
// allocates. Each launcher returns an error message, empty on success.
#include <cstdint>
#include <string>

#include "core/complex.hpp"

namespace subq::ssm::detail {

/// S4D: K[c, h, l] = sum_n 2 Re(coefficient[c, h, n] exp(l log_decay[h, n])).
struct VandermondeParams {
  const complex128* coefficient;  // (channels, H, N): C dB
  const complex128* log_decay;    // (H, N): log dA
  double* K;                      // (channels, H, L)
  std::int64_t channels, H, N, L;
};
std::string launch_vandermonde(const VandermondeParams& params);

/// S4: the kernel's spectrum at the Ld-th roots of unity, scaled for numpy's irfft, from the
/// four Cauchy sums over the conjugate-expanded states with the Woodbury correction.
struct CauchyParams {
  const complex128* v;  // (channels, H, 4, N): dt times B C~, B Q, P C~, P Q (Q = conj P)
  const complex128* w;  // (H, N): dt A
  complex128* spectrum;  // (channels, H, Ld / 2 + 1)
  std::int64_t channels, H, N, Ld;
};
std::string launch_cauchy_spectrum(const CauchyParams& params);

/// y[b, c, h, l] = gelu(y[b, c, h, l] + D[c, h] x[b, h, l]) in place; y (batch, channels, H, L),
/// D (channels, H), x (batch, H, L), contiguous.
std::string launch_gelu_skip(double* y, const double* D, const double* x, std::int64_t batch, std::int64_t channels,
                             std::int64_t H, std::int64_t L);

/// out[b, h, l] = z[b, l, h] sigmoid(z[b, l, H + h]): the GLU over the 2H output features of z
/// (batch, L, 2H); out (batch, H, L).
std::string launch_feature_glu(const double* z, double* out, std::int64_t batch, std::int64_t H, std::int64_t L);

}  // namespace subq::ssm::detail
