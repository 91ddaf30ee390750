#include "conv/fft_conv.hpp"

#include <algorithm>
#include <complex>
#include <vector>

#include "conv/real_fft.hpp"
#include "core/check.hpp"
#include "core/thread_pool.hpp"

namespace subq::conv {

namespace {

// Smallest 2^a 3^b 5^c >= n: FFT sizes with only small factors are fast.
std::int64_t fast_fft_size(std::int64_t n) {
  for (std::int64_t m = std::max<std::int64_t>(n, 1);; ++m) {
    std::int64_t r = m;
    for (const std::int64_t f : {2, 3, 5})
      while (r % f == 0) r /= f;
    if (r == 1) return m;
  }
}

template <class T>
Tensor fft_causal_conv_typed(const Tensor& x, const Tensor& k) {
  const std::int64_t B = x.size(0), H = x.size(1), L = x.size(2), C = k.size(0), Lk = k.size(2);
  Tensor y = Tensor::empty({B, C, H, L}, dtype_of<T>);
  if (y.numel() == 0) return y;
  const std::int64_t n = fast_fft_size(L + std::min(Lk, L) - 1);  // no wrap-around into [0, L)
  ThreadPool::global().parallel_for(H, [&](std::int64_t begin, std::int64_t end) {
    RealFft<T> fft(n);
    const std::int64_t bins = fft.bins();
    std::vector<std::complex<T>> kf(static_cast<std::size_t>(C * bins)), xf(static_cast<std::size_t>(bins)), yf(static_cast<std::size_t>(bins));
    std::vector<T> out(static_cast<std::size_t>(n));
    for (std::int64_t h = begin; h < end; ++h) {
      for (std::int64_t c = 0; c < C; ++c)
        fft.forward(k.data<T>() + c * k.stride(0) + h * k.stride(1), k.stride(2), std::min(Lk, L), &kf[c * bins]);
      for (std::int64_t b = 0; b < B; ++b) {
        fft.forward(x.data<T>() + b * x.stride(0) + h * x.stride(1), x.stride(2), L, xf.data());
        for (std::int64_t c = 0; c < C; ++c) {
          for (std::int64_t f = 0; f < bins; ++f) yf[f] = xf[f] * kf[c * bins + f];
          fft.inverse(yf.data(), out.data());
          std::copy(out.begin(), out.begin() + L, y.data<T>() + ((b * C + c) * H + h) * L);
        }
      }
    }
  });
  return y;
}

template <class T>
Tensor irfft_typed(const Tensor& spectrum, std::int64_t n) {
  const std::int64_t bins = spectrum.size(-1), rows = spectrum.numel() / std::max<std::int64_t>(bins, 1);
  Shape shape = spectrum.shape();
  shape.back() = n;
  Tensor out = Tensor::empty(shape, dtype_of<T>);
  const Tensor s = spectrum.contiguous();
  RealFft<T> fft(n);
  for (std::int64_t r = 0; r < rows; ++r)
    fft.inverse(reinterpret_cast<const std::complex<T>*>(s.data<Complex<T>>() + r * bins), out.data<T>() + r * n);
  return out;
}

}  // namespace

Tensor fft_causal_conv(const Tensor& x, const Tensor& k) {
  constexpr const char* op = "fft_causal_conv";
  SUBQ_CHECK(x.defined() && x.dim() == 3, "{}: x: expected (batch, H, L), found {}", op,
             x.defined() ? to_string(x.shape()) : "nothing");
  SUBQ_CHECK(k.defined() && k.dim() == 3 && k.size(1) == x.size(1), "{}: k: expected (channels, {}, Lk), found {}", op,
             x.size(1), k.defined() ? to_string(k.shape()) : "nothing");
  SUBQ_CHECK(x.dtype() == k.dtype() && (x.dtype() == DType::F32 || x.dtype() == DType::F64),
             "{}: x and k must both be float32 or both float64, found {} and {}", op, dtype_name(x.dtype()),
             dtype_name(k.dtype()));
  SUBQ_CHECK(x.device().is_cpu() && k.device().is_cpu(), "{}: runs on the CPU only", op);
  return x.dtype() == DType::F64 ? fft_causal_conv_typed<double>(x, k) : fft_causal_conv_typed<float>(x, k);
}

Tensor irfft(const Tensor& spectrum, std::int64_t n) {
  SUBQ_CHECK(spectrum.defined() && spectrum.dim() >= 1 && is_complex(spectrum.dtype()) && spectrum.device().is_cpu(),
             "irfft: expected a complex tensor on the CPU");
  SUBQ_CHECK(n >= 1 && spectrum.size(-1) == n / 2 + 1, "irfft: length {} needs {} frequencies, found {}", n, n / 2 + 1,
             spectrum.size(-1));
  return spectrum.dtype() == DType::C128 ? irfft_typed<double>(spectrum, n) : irfft_typed<float>(spectrum, n);
}

}  // namespace subq::conv
