#pragma once
// Internal: subq's one FFT interface, between real signals of a fixed length n and their
// n/2 + 1 non-negative frequencies. The backend is chosen when subq is built (CMake SUBQ_FFT):
// FFTW3 (the fast one, GPL) or KissFFT through Eigen (BSD). An object holds its own buffers: one
// per thread; plans are shared.
#include <complex>
#include <cstdint>
#include <memory>

namespace subq::conv {

template <class T>  // float or double
class RealFft {
 public:
  explicit RealFft(std::int64_t n);
  ~RealFft();
  RealFft(const RealFft&) = delete;
  RealFft& operator=(const RealFft&) = delete;

  std::int64_t bins() const { return n_ / 2 + 1; }
  /// `count` samples x[0], x[step], ..., zero-padded to n -> spectrum (bins values).
  void forward(const T* x, std::int64_t step, std::int64_t count, std::complex<T>* spectrum);
  /// spectrum (bins values) -> out (n values), the inverse of forward (scaled by 1/n).
  void inverse(const std::complex<T>* spectrum, T* out);

  /// "fftw" or "kissfft".
  static const char* backend();

 private:
  struct Buffers;
  std::int64_t n_;
  std::unique_ptr<Buffers> buffers_;
};

extern template class RealFft<float>;
extern template class RealFft<double>;

}  // namespace subq::conv
