#include "conv/fft_conv.hpp"

#include <algorithm>
#include <complex>
#include <vector>

#include "conv/fft_conv_cuda.hpp"
#include "conv/real_fft.hpp"
#include "core/check.hpp"
#include "core/dispatch.hpp"
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

// The cuFFT path (conv/fft_conv.cu), on contiguous copies of x and k.
inline Tensor fft_causal_conv_cuda(const Tensor& x, const Tensor& k) {
  const Device device = x.device();
  const std::int64_t B = x.size(0), H = x.size(1), L = x.size(2), C = k.size(0), Lk = k.size(2);
  Tensor y = Tensor::empty({B, C, H, L}, x.dtype(), device);
  const Tensor xc = x.contiguous(), kc = k.contiguous();
  detail::FftConvParams params{xc.raw_data(), kc.raw_data(), y.raw_data(), B, H, L, C, Lk,
                               // length 2 at least (more zero padding is harmless): cuFFT is kept off length-1 plans
                               std::max<std::int64_t>(fast_fft_size(L + std::min(Lk, L) - 1), 2),
                               x.dtype() == DType::F64, nullptr};
  const Tensor workspace =
      Tensor::empty({std::int64_t(detail::fft_conv_workspace_bytes(params))}, DType::U8, device);
  params.workspace = workspace.raw_data();
  check_launch("fft_causal_conv", device, detail::launch_fft_causal_conv(params));
  return y;
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
  check_same_device(op, x.device(), {{"k", &k}});
  if (x.device().is_cuda()) return on_cuda(op, x.device(), [&] { return fft_causal_conv_cuda(x, k); });
  return dispatch(FloatTypes{}, op, x.dtype(), [&](auto zero) { return fft_causal_conv_typed<decltype(zero)>(x, k); });
}

Tensor irfft(const Tensor& spectrum, std::int64_t n) {
  SUBQ_CHECK(spectrum.defined() && spectrum.dim() >= 1 && is_complex(spectrum.dtype()), "irfft: expected a complex tensor");
  SUBQ_CHECK(n >= 1 && spectrum.size(-1) == n / 2 + 1, "irfft: length {} needs {} frequencies, found {}", n, n / 2 + 1,
             spectrum.size(-1));
  if (spectrum.device().is_cpu())
    return dispatch(TypeList<complex64, complex128>{}, "irfft", spectrum.dtype(),
                    [&](auto zero) { return irfft_typed<decltype(zero.re)>(spectrum, n); });
  SUBQ_CHECK(spectrum.dtype() == DType::C128, "irfft: on {}: expected complex128, found {}", to_string(spectrum.device()),
             dtype_name(spectrum.dtype()));
  Shape shape = spectrum.shape();
  shape.back() = n;
  Tensor out = Tensor::empty(shape, DType::F64, spectrum.device());
  const Tensor scratch = spectrum.clone();  // cuFFT's inverse overwrites its input
  const std::int64_t rows = spectrum.numel() / spectrum.size(-1);
  launch_on_cuda("irfft", spectrum.device(), [&] {
    return detail::launch_irfft_f64(static_cast<double*>(scratch.raw_data()), rows, n, out.data<double>(), n);
  });
  return out;
}

}  // namespace subq::conv
