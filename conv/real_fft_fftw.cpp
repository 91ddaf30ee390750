// The FFTW3 backend of conv/real_fft.hpp (GPL): one pair of plans per length and precision,
// made once (FFTW's planner is not thread-safe, so under a lock) and executed on each object's
// own fftw_malloc'd buffers, which have the alignment the plans were made for.
#include <fftw3.h>

#include <algorithm>
#include <map>
#include <mutex>

#include "conv/real_fft.hpp"
#include "core/check.hpp"

namespace subq::conv {

namespace {

template <class T>
struct Fftw;

template <>
struct Fftw<float> {
  using Plan = fftwf_plan;
  using Complex = fftwf_complex;
  static void* malloc(std::size_t bytes) { return fftwf_malloc(bytes); }
  static void free(void* p) { fftwf_free(p); }
  static Plan forward_plan(int n, float* in, Complex* out) { return fftwf_plan_dft_r2c_1d(n, in, out, FFTW_ESTIMATE); }
  static Plan inverse_plan(int n, Complex* in, float* out) { return fftwf_plan_dft_c2r_1d(n, in, out, FFTW_ESTIMATE); }
  static void forward(Plan p, float* in, Complex* out) { fftwf_execute_dft_r2c(p, in, out); }
  static void inverse(Plan p, Complex* in, float* out) { fftwf_execute_dft_c2r(p, in, out); }
};

template <>
struct Fftw<double> {
  using Plan = fftw_plan;
  using Complex = fftw_complex;
  static void* malloc(std::size_t bytes) { return fftw_malloc(bytes); }
  static void free(void* p) { fftw_free(p); }
  static Plan forward_plan(int n, double* in, Complex* out) { return fftw_plan_dft_r2c_1d(n, in, out, FFTW_ESTIMATE); }
  static Plan inverse_plan(int n, Complex* in, double* out) { return fftw_plan_dft_c2r_1d(n, in, out, FFTW_ESTIMATE); }
  static void forward(Plan p, double* in, Complex* out) { fftw_execute_dft_r2c(p, in, out); }
  static void inverse(Plan p, Complex* in, double* out) { fftw_execute_dft_c2r(p, in, out); }
};

template <class T>
struct Plans {
  typename Fftw<T>::Plan forward, inverse;
};

// The plans for length n, made on first use on the caller's buffers and kept for the process.
template <class T>
Plans<T> plans_for(std::int64_t n, T* time, typename Fftw<T>::Complex* freq) {
  static std::mutex mutex;
  static std::map<std::int64_t, Plans<T>> plans;
  const std::lock_guard<std::mutex> lock(mutex);
  auto it = plans.find(n);
  if (it == plans.end()) {
    const Plans<T> made{Fftw<T>::forward_plan(int(n), time, freq), Fftw<T>::inverse_plan(int(n), freq, time)};
    SUBQ_CHECK(made.forward && made.inverse, "FFTW: no plan for a real FFT of length {}", n);
    it = plans.emplace(n, made).first;
  }
  return it->second;
}

}  // namespace

template <class T>
struct RealFft<T>::Buffers {
  T* time;
  typename Fftw<T>::Complex* freq;
  Plans<T> plans;
};

template <class T>
RealFft<T>::RealFft(std::int64_t n) : n_(n), buffers_(std::make_unique<Buffers>()) {
  SUBQ_CHECK(n >= 1 && n <= std::int64_t(1) << 30, "RealFft: length {} outside [1, 2^30]", n);
  buffers_->time = static_cast<T*>(Fftw<T>::malloc(sizeof(T) * std::size_t(n)));
  buffers_->freq = static_cast<typename Fftw<T>::Complex*>(Fftw<T>::malloc(sizeof(typename Fftw<T>::Complex) * std::size_t(bins())));
  SUBQ_CHECK(buffers_->time && buffers_->freq, "RealFft: out of memory for length {}", n);
  buffers_->plans = plans_for<T>(n, buffers_->time, buffers_->freq);
}

template <class T>
RealFft<T>::~RealFft() {
  Fftw<T>::free(buffers_->time);
  Fftw<T>::free(buffers_->freq);
}

template <class T>
void RealFft<T>::forward(const T* x, std::int64_t step, std::int64_t count, std::complex<T>* spectrum) {
  T* time = buffers_->time;
  const std::int64_t used = std::min(count, n_);
  for (std::int64_t i = 0; i < used; ++i) time[i] = x[i * step];
  std::fill(time + used, time + n_, T(0));
  Fftw<T>::forward(buffers_->plans.forward, time, buffers_->freq);
  std::copy_n(reinterpret_cast<const std::complex<T>*>(buffers_->freq), bins(), spectrum);
}

template <class T>
void RealFft<T>::inverse(const std::complex<T>* spectrum, T* out) {
  // FFTW's complex-to-real transform overwrites its input: it gets a copy.
  std::copy_n(spectrum, bins(), reinterpret_cast<std::complex<T>*>(buffers_->freq));
  Fftw<T>::inverse(buffers_->plans.inverse, buffers_->freq, buffers_->time);
  const T scale = T(1) / T(n_);
  for (std::int64_t i = 0; i < n_; ++i) out[i] = buffers_->time[i] * scale;
}

template <class T>
const char* RealFft<T>::backend() {
  return "fftw";
}

template class RealFft<float>;
template class RealFft<double>;

}  // namespace subq::conv
