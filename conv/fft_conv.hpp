#pragma once
// Long convolutions by FFT, the convolution mode of S4/S4D and Hyena: O(L log L) per channel.
#include <cstdint>

#include "../core/tensor.hpp"

namespace subq::conv {

/// Causal convolution of every feature with its own kernel, zero-padded (no wrap-around):
///   y[b, c, h, t] = sum_{s = 0}^{min(t, Lk - 1)} k[c, h, s] * x[b, h, t - s]
/// x: (batch, H, L); k: (channels, H, Lk); both float32 or both float64, on one device (CPU:
/// FFTW or KissFFT; CUDA: cuFFT), any strides. Returns y (batch, channels, H, L) in x's dtype.
Tensor fft_causal_conv(const Tensor& x, const Tensor& k);

/// numpy's irfft: the real signal of length n from its n/2 + 1 non-negative frequencies (the
/// imaginary parts of the zero and Nyquist bins do not contribute).
/// spectrum: (..., n/2 + 1) complex64 or complex128 -> (..., n) float32 or float64; on CUDA
/// complex128 only.
Tensor irfft(const Tensor& spectrum, std::int64_t n);

}  // namespace subq::conv
