// The KissFFT backend of conv/real_fft.hpp, through Eigen's FFT module (BSD).
#include <algorithm>
#include <unsupported/Eigen/FFT>
#include <vector>

#include "conv/real_fft.hpp"

namespace subq::conv {

// Eigen's plans are cached per Eigen::FFT object, which is not shared between threads.
template <class T>
struct RealFft<T>::Buffers {
  std::vector<T> time;
  Eigen::FFT<T> fft;
};

template <class T>
RealFft<T>::RealFft(std::int64_t n) : n_(n), buffers_(std::make_unique<Buffers>()) {
  buffers_->time.resize(static_cast<std::size_t>(n));
  buffers_->fft.SetFlag(Eigen::FFT<T>::HalfSpectrum);
}

template <class T>
RealFft<T>::~RealFft() = default;

template <class T>
void RealFft<T>::forward(const T* x, std::int64_t step, std::int64_t count, std::complex<T>* spectrum) {
  std::vector<T>& time = buffers_->time;
  std::fill(time.begin(), time.end(), T(0));
  for (std::int64_t i = 0; i < std::min(count, n_); ++i) time[i] = x[i * step];
  if (n_ == 1) {  // kissfft does not take length 1
    spectrum[0] = time[0];
    return;
  }
  buffers_->fft.fwd(spectrum, time.data(), n_);
}

template <class T>
void RealFft<T>::inverse(const std::complex<T>* spectrum, T* out) {
  if (n_ == 1) {
    out[0] = spectrum[0].real();
    return;
  }
  buffers_->fft.inv(out, spectrum, n_);
}

template <class T>
const char* RealFft<T>::backend() {
  return "kissfft";
}

template class RealFft<float>;
template class RealFft<double>;

}  // namespace subq::conv
