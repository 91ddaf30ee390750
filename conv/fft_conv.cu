// The long convolutions on CUDA through cuFFT, conv/fft_conv.cpp's CPU path being their spec:
// zero-pad every row to the FFT length, transform the x and kernel rows (batched, in place),
// multiply each x spectrum by its channels' kernel spectra, transform back and keep the first
// L samples, scaled by 1/n (cuFFT's inverse is unnormalised).
#include <cuda_runtime.h>
#include <cufft.h>

#include <list>
#include <memory>
#include <mutex>
#include <tuple>

#include "conv/fft_conv_cuda.hpp"
#include "core/cuda_launch.cuh"

namespace subq::conv::detail {

namespace {

using subq::detail::launch_elementwise;

template <class T>
struct Fft;
template <>
struct Fft<float> {
  using Complex = cufftComplex;
  static constexpr cufftType kForward = CUFFT_R2C, kInverse = CUFFT_C2R;
  static cufftResult forward(cufftHandle plan, float* io) { return cufftExecR2C(plan, io, reinterpret_cast<Complex*>(io)); }
  static cufftResult inverse(cufftHandle plan, float* io) { return cufftExecC2R(plan, reinterpret_cast<Complex*>(io), io); }
};
template <>
struct Fft<double> {
  using Complex = cufftDoubleComplex;
  static constexpr cufftType kForward = CUFFT_D2Z, kInverse = CUFFT_Z2D;
  static cufftResult forward(cufftHandle plan, double* io) { return cufftExecD2Z(plan, io, reinterpret_cast<Complex*>(io)); }
  static cufftResult inverse(cufftHandle plan, double* io) { return cufftExecZ2D(plan, reinterpret_cast<Complex*>(io), io); }
};

std::string cufft_error(const char* what, cufftResult result) {
  return std::string("cuFFT ") + what + " failed with cufftResult " + std::to_string(int(result));
}

// A batched plan over `rows` rows of length n, in place: a row of real samples is padded to
// 2 * bins reals so that its bins complex values fit over it.
class Plan {
 public:
  Plan(cufftType type, std::int64_t n, std::int64_t rows) {
    const long long bins = n / 2 + 1;
    long long length = n, real_embed = 2 * bins, complex_embed = bins;
    const bool forward = type == CUFFT_R2C || type == CUFFT_D2Z;
    std::size_t work = 0;
    if ((status_ = cufftCreate(&handle_)) != CUFFT_SUCCESS) return;
    created_ = true;
    status_ = cufftMakePlanMany64(handle_, 1, &length, forward ? &real_embed : &complex_embed, 1,
                                  forward ? 2 * bins : bins, forward ? &complex_embed : &real_embed, 1,
                                  forward ? bins : 2 * bins, type, rows, &work);
  }
  ~Plan() {
    if (created_) cufftDestroy(handle_);
  }
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  cufftHandle handle() const { return handle_; }
  cufftResult status() const { return status_; }

 private:
  cufftHandle handle_ = 0;  // a valid handle may be 0
  bool created_ = false;
  cufftResult status_ = CUFFT_SUCCESS;
};

// Plans are costly to make (cuFFT sizes and allocates each one's work area), and a model asks for
// the same few shapes on every call: the kPlans most recently used are kept, per device.
std::shared_ptr<const Plan> cached_plan(cufftType type, std::int64_t n, std::int64_t rows) {
  constexpr std::size_t kPlans = 16;
  using Key = std::tuple<int, int, std::int64_t, std::int64_t>;  // device, type, n, rows
  static std::mutex mutex;
  // Most recent first; never destroyed, as cuFFT may be unloaded before statics are at exit.
  static auto& recent = *new std::list<std::pair<Key, std::shared_ptr<const Plan>>>;
  int device = 0;
  cudaGetDevice(&device);
  const Key key{device, int(type), n, rows};
  const std::lock_guard<std::mutex> lock(mutex);
  for (auto it = recent.begin(); it != recent.end(); ++it)
    if (it->first == key) {
      recent.splice(recent.begin(), recent, it);
      return it->second;
    }
  auto plan = std::make_shared<const Plan>(type, n, rows);
  if (plan->status() != CUFFT_SUCCESS) return plan;  // not kept: the caller reports it
  recent.emplace_front(key, plan);
  if (recent.size() > kPlans) recent.pop_back();
  return plan;
}

// dst (rows, padded): the first `count` samples of each src row (rows, src_row), then zeros.
template <class T>
__global__ void pad_rows(T* dst, const T* src, std::int64_t rows, std::int64_t count, std::int64_t src_row,
                         std::int64_t padded) {
  SUBQ_GRID_STRIDE(i, rows * padded) {
    const std::int64_t r = i / padded, t = i % padded;
    dst[i] = t < count ? src[r * src_row + t] : T(0);
  }
}

// y spectrum (batch, channels, H) rows = x spectrum (batch, H) rows times kernel (channels, H)
// rows. With one channel y may be x itself: each entry is read and written by one thread.
template <class C>
__global__ void multiply_spectra(C* y, const C* x, const C* k, std::int64_t batch, std::int64_t channels,
                                 std::int64_t H, std::int64_t bins) {
  SUBQ_GRID_STRIDE(i, batch * channels * H * bins) {
    const std::int64_t f = i % bins, h = i / bins % H, c = i / (bins * H) % channels, b = i / (bins * H * channels);
    const C a = x[(b * H + h) * bins + f], w = k[(c * H + h) * bins + f];
    y[i] = {a.x * w.x - a.y * w.y, a.x * w.y + a.y * w.x};
  }
}

// out (rows, length) = the first `length` samples of each src row (rows, padded), times scale.
template <class T>
__global__ void crop_rows(T* out, const T* src, std::int64_t rows, std::int64_t length, std::int64_t padded, T scale) {
  SUBQ_GRID_STRIDE(i, rows * length) out[i] = src[i / length * padded + i % length] * scale;
}

// numpy's irfft reads only the real parts of the zero and Nyquist (even n) bins.
__global__ void drop_edge_imaginary(cufftDoubleComplex* spectra, std::int64_t rows, std::int64_t n) {
  const std::int64_t bins = n / 2 + 1;
  SUBQ_GRID_STRIDE(r, rows) {
    spectra[r * bins].y = 0;
    if (n % 2 == 0) spectra[r * bins + bins - 1].y = 0;
  }
}

template <class T>
std::string pad(T* dst, const T* src, std::int64_t rows, std::int64_t count, std::int64_t src_row, std::int64_t padded) {
  return launch_elementwise(pad_rows<T>, rows * padded, dst, src, rows, count, src_row, padded);
}

template <class T>
std::string fft_causal_conv(const FftConvParams& p) {
  using C = typename Fft<T>::Complex;
  const std::int64_t bins = p.n / 2 + 1, padded = 2 * bins, x_rows = p.batch * p.H, k_rows = p.channels * p.H,
                     y_rows = p.batch * p.channels * p.H;
  T* const xs = static_cast<T*>(p.workspace);
  T* const ks = xs + x_rows * padded;
  T* const ys = p.channels == 1 ? xs : ks + k_rows * padded;
  const T* x = static_cast<const T*>(p.x);
  const T* k = static_cast<const T*>(p.k);
  if (std::string e = pad(xs, x, x_rows, p.L, p.L, padded); !e.empty()) return e;
  if (std::string e = pad(ks, k, k_rows, p.Lk < p.L ? p.Lk : p.L, p.Lk, padded); !e.empty()) return e;
  {
    const auto forward_x = cached_plan(Fft<T>::kForward, p.n, x_rows), forward_k = cached_plan(Fft<T>::kForward, p.n, k_rows);
    if (forward_x->status() != CUFFT_SUCCESS) return cufft_error("plan", forward_x->status());
    if (forward_k->status() != CUFFT_SUCCESS) return cufft_error("plan", forward_k->status());
    if (const cufftResult r = Fft<T>::forward(forward_x->handle(), xs); r != CUFFT_SUCCESS) return cufft_error("forward", r);
    if (const cufftResult r = Fft<T>::forward(forward_k->handle(), ks); r != CUFFT_SUCCESS) return cufft_error("forward", r);
  }
  if (std::string e = launch_elementwise(multiply_spectra<C>, y_rows * bins, reinterpret_cast<C*>(ys),
                                         reinterpret_cast<const C*>(xs), reinterpret_cast<const C*>(ks), p.batch,
                                         p.channels, p.H, bins);
      !e.empty())
    return e;
  const auto inverse = cached_plan(Fft<T>::kInverse, p.n, y_rows);
  if (inverse->status() != CUFFT_SUCCESS) return cufft_error("plan", inverse->status());
  if (const cufftResult r = Fft<T>::inverse(inverse->handle(), ys); r != CUFFT_SUCCESS) return cufft_error("inverse", r);
  return launch_elementwise(crop_rows<T>, y_rows * p.L, static_cast<T*>(p.y), ys, y_rows, p.L, padded, T(1) / T(p.n));
}

}  // namespace

std::size_t fft_conv_workspace_bytes(const FftConvParams& p) {
  const std::int64_t padded = 2 * (p.n / 2 + 1);
  const std::int64_t rows = p.batch * p.H + p.channels * p.H + (p.channels == 1 ? 0 : p.batch * p.channels * p.H);
  return std::size_t(rows * padded) * (p.f64 ? sizeof(double) : sizeof(float));
}

std::string launch_fft_causal_conv(const FftConvParams& p) {
  if (p.batch * p.channels * p.H * p.L == 0) return {};
  return p.f64 ? fft_causal_conv<double>(p) : fft_causal_conv<float>(p);
}

std::string launch_irfft_f64(double* io, std::int64_t rows, std::int64_t n, double* out, std::int64_t out_length) {
  if (rows * out_length == 0) return {};
  auto* spectra = reinterpret_cast<cufftDoubleComplex*>(io);
  if (std::string e = launch_elementwise(drop_edge_imaginary, rows, spectra, rows, n); !e.empty()) return e;
  if (n > 1) {  // length 1: the signal is its zero bin's real part, already in place
    const auto inverse = cached_plan(CUFFT_Z2D, n, rows);
    if (inverse->status() != CUFFT_SUCCESS) return cufft_error("plan", inverse->status());
    if (const cufftResult r = Fft<double>::inverse(inverse->handle(), io); r != CUFFT_SUCCESS) return cufft_error("inverse", r);
  }
  const std::int64_t padded = 2 * (n / 2 + 1);
  return launch_elementwise(crop_rows<double>, rows * out_length, out, io, rows, out_length, padded, 1.0 / double(n));
}

}  // namespace subq::conv::detail
