#pragma once
// A complex number usable in host and device code, laid out like std::complex<T> and numpy's
// complex64/complex128 (real part first). std::complex is neither device-usable nor fast under
// -O2 (its multiply calls __mulsc3 to handle NaN/inf), and the scans multiply a lot.

#if defined(__CUDACC__)
#define SUBQ_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define SUBQ_HOST_DEVICE inline
#endif

namespace subq {

template <class T>
struct alignas(2 * sizeof(T)) Complex {
  T re{};
  T im{};

  SUBQ_HOST_DEVICE constexpr Complex() = default;
  SUBQ_HOST_DEVICE constexpr Complex(T real) : re(real), im(0) {}
  SUBQ_HOST_DEVICE constexpr Complex(T real, T imag) : re(real), im(imag) {}

  SUBQ_HOST_DEVICE friend constexpr Complex operator+(Complex x, Complex y) { return {x.re + y.re, x.im + y.im}; }
  SUBQ_HOST_DEVICE friend constexpr Complex operator-(Complex x, Complex y) { return {x.re - y.re, x.im - y.im}; }
  SUBQ_HOST_DEVICE friend constexpr Complex operator*(Complex x, Complex y) {
    return {x.re * y.re - x.im * y.im, x.re * y.im + x.im * y.re};
  }
  SUBQ_HOST_DEVICE friend constexpr bool operator==(Complex x, Complex y) { return x.re == y.re && x.im == y.im; }
};

/// Real part, for code written once for real and complex scalars.
template <class T>
SUBQ_HOST_DEVICE constexpr T real_part(T x) { return x; }
template <class T>
SUBQ_HOST_DEVICE constexpr T real_part(Complex<T> x) { return x.re; }

using complex64 = Complex<float>;
using complex128 = Complex<double>;

}  // namespace subq
