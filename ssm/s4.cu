// The S4/S4D layer's own CUDA kernels, ssm/s4.cpp's CPU loops being their spec: the SSM kernel
// from its per-state terms (one thread per kernel entry or frequency, a loop over the states),
// and the element-wise steps around the FFT convolution and the output projection.
#include <cuda_runtime.h>

#include <cmath>

#include "core/cuda_launch.cuh"
#include "core/math.hpp"
#include "ssm/s4_cuda.hpp"

namespace subq::ssm::detail {

namespace {

using subq::detail::launch_elementwise;

constexpr double kPi = 3.141592653589793;

__device__ __forceinline__ complex128 conj(complex128 a) { return {a.re, -a.im}; }

__device__ __forceinline__ complex128 divide(complex128 a, complex128 b) {
  const double norm = b.re * b.re + b.im * b.im;
  return {(a.re * b.re + a.im * b.im) / norm, (a.im * b.re - a.re * b.im) / norm};
}

__global__ void vandermonde_kernel(VandermondeParams p) {
  SUBQ_GRID_STRIDE(i, p.channels * p.H * p.L) {
    const std::int64_t l = i % p.L, ch = i / p.L, h = ch % p.H;
    double sum = 0;
    for (std::int64_t n = 0; n < p.N; ++n)
      sum += 2 * (p.coefficient[ch * p.N + n] * exp_scaled(double(l), p.log_decay[h * p.N + n])).re;
    p.K[i] = sum;
  }
}

// sum over the conjugate-expanded states of v / (z - w).
__device__ complex128 cauchy(const complex128* v, const complex128* w, std::int64_t N, complex128 z) {
  complex128 sum = 0;
  for (std::int64_t n = 0; n < N; ++n) sum = sum + (divide(v[n], z - w[n]) + divide(conj(v[n]), z - conj(w[n])));
  return sum;
}

__global__ void cauchy_spectrum_kernel(CauchyParams p) {
  const std::int64_t bins = p.Ld / 2 + 1;
  SUBQ_GRID_STRIDE(i, p.channels * p.H * bins) {
    const std::int64_t k = i % bins, ch = i / bins, h = ch % p.H;
    const double angle = -2 * kPi * double(k) / double(p.Ld);
    const complex128 omega{cos(angle), sin(angle)}, one_plus = complex128(1) + omega;
    const complex128 z = divide(complex128(2) * (complex128(1) - omega), one_plus);
    const complex128* v = p.v + ch * 4 * p.N;
    const complex128* w = p.w + h * p.N;
    const complex128 r00 = cauchy(v, w, p.N, z), r01 = cauchy(v + p.N, w, p.N, z), r10 = cauchy(v + 2 * p.N, w, p.N, z),
                     r11 = cauchy(v + 3 * p.N, w, p.N, z);
    p.spectrum[i] = divide((r00 - divide(r01 * r10, complex128(1) + r11)) * complex128(2), one_plus);
  }
}

__global__ void gelu_skip_kernel(double* y, const double* D, const double* x, std::int64_t batch,
                                 std::int64_t channels, std::int64_t H, std::int64_t L) {
  SUBQ_GRID_STRIDE(i, batch * channels * H * L) {
    const std::int64_t l = i % L, h = i / L % H, c = i / (L * H) % channels, b = i / (L * H * channels);
    const double u = y[i] + D[c * H + h] * x[(b * H + h) * L + l];
    y[i] = 0.5 * u * (1 + erf(u / sqrt(2.0)));
  }
}

__global__ void feature_glu_kernel(const double* z, double* out, std::int64_t batch, std::int64_t H, std::int64_t L) {
  SUBQ_GRID_STRIDE(i, batch * H * L) {
    const std::int64_t l = i % L, h = i / L % H, b = i / (L * H);
    const double* row = z + (b * L + l) * 2 * H;
    out[i] = row[h] / (1 + exp(-row[H + h]));
  }
}

}  // namespace

std::string launch_vandermonde(const VandermondeParams& p) {
  const std::int64_t n = p.channels * p.H * p.L;
  return launch_elementwise(vandermonde_kernel, n, p);
}

std::string launch_cauchy_spectrum(const CauchyParams& p) {
  const std::int64_t n = p.channels * p.H * (p.Ld / 2 + 1);
  return launch_elementwise(cauchy_spectrum_kernel, n, p);
}

std::string launch_gelu_skip(double* y, const double* D, const double* x, std::int64_t batch, std::int64_t channels,
                             std::int64_t H, std::int64_t L) {
  const std::int64_t n = batch * channels * H * L;
  return launch_elementwise(gelu_skip_kernel, n, y, D, x, batch, channels, H, L);
}

std::string launch_feature_glu(const double* z, double* out, std::int64_t batch, std::int64_t H, std::int64_t L) {
  const std::int64_t n = batch * H * L;
  return launch_elementwise(feature_glu_kernel, n, z, out, batch, H, L);
}

}  // namespace subq::ssm::detail
