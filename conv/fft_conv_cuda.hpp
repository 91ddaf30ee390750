#pragma once
// Internal: the cuFFT launchers of the long convolutions (conv/fft_conv.cu), in plain types;
// conv/fft_conv.cpp checks, sizes the FFT and allocates. Rows are transformed in place, each
// padded to 2 * (n/2 + 1) reals so that its spectrum fits over it.
#include <cstddef>
#include <cstdint>
#include <string>

namespace subq::conv::detail {

struct FftConvParams {
  const void* x;  // (batch, H, L) contiguous, float or double
  const void* k;  // (channels, H, Lk) contiguous, x's type
  void* y;        // (batch, channels, H, L) contiguous, x's type
  std::int64_t batch, H, L, channels, Lk;
  std::int64_t n;   // FFT length, >= L + min(Lk, L) - 1 so that nothing wraps around into [0, L)
  bool f64;         // double, else float
  void* workspace;  // fft_conv_workspace_bytes(*this) bytes on the device
};

std::size_t fft_conv_workspace_bytes(const FftConvParams& params);

/// y = the causal convolution of every x row with its kernel rows; returns an error message,
/// empty on success.
std::string launch_fft_causal_conv(const FftConvParams& params);

/// numpy's irfft of rows, float64: io holds (rows, n/2 + 1) complex128 spectra, contiguous, and
/// is overwritten; out (rows, out_length) gets the first out_length <= n samples of each signal.
/// The imaginary parts of the zero and Nyquist bins do not contribute.
std::string launch_irfft_f64(double* io, std::int64_t rows, std::int64_t n, double* out, std::int64_t out_length);

}  // namespace subq::conv::detail
