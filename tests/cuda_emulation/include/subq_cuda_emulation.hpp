#pragma once
// A CPU emulation of the CUDA execution model, enough to run subq's kernels without a GPU: a
// launch runs its blocks one after another, each block's threads as fibers on the calling thread,
// each run in turn up to its next __syncthreads (when the first block's threads meet no barrier,
// the other blocks' threads run as plain calls); __shared__ variables are statics (blocks never
// overlap); device memory is host memory. Built with AddressSanitizer it plays compute-sanitizer's memcheck. It checks logic and
// indexing, not warp-level code, speed, or device-only memory rules.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <type_traits>

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
using uint3 = dim3;
struct int2 {
  int x, y;
};

namespace subq_emulation {
inline dim3 thread_index, block_index;
inline dim3 block_dim, grid_dim;
/// Suspends the running thread of the block until every other one has reached its barrier too.
void block_barrier();
/// Runs body for every thread of every block; a bad configuration is kept for cudaGetLastError.
void launch(dim3 grid, dim3 block, std::size_t dynamic_shared, const std::function<void()>& body);
}  // namespace subq_emulation

#define threadIdx subq_emulation::thread_index
#define blockIdx subq_emulation::block_index
#define blockDim subq_emulation::block_dim
#define gridDim subq_emulation::grid_dim
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __restrict__ __restrict

inline void __syncthreads() { subq_emulation::block_barrier(); }

// CUDA's math overloads in the global namespace: float arguments stay float.
using std::ceil;
using std::cos;
using std::erf;
using std::exp;
using std::exp2;
using std::fabs;
using std::floor;
using std::log;
using std::log1p;
using std::pow;
using std::sin;
using std::sqrt;
using std::tanh;
template <class A, class B>
inline std::common_type_t<A, B> min(A a, B b) {
  return b < a ? b : a;
}
template <class A, class B>
inline std::common_type_t<A, B> max(A a, B b) {
  return a < b ? b : a;
}
inline void sincos(double x, double* s, double* c) { *s = std::sin(x), *c = std::cos(x); }
inline void sincosf(float x, float* s, float* c) { *s = std::sin(x), *c = std::cos(x); }
inline float __expf(float x) { return std::exp(x); }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }

#include <tuple>

namespace subq_emulation {
/// kernel<<<grid, block, shared>>>(args...): the arguments converted to the kernel's parameters
/// once, as CUDA copies them, then the kernel run by every thread.
template <class... Params, class... Args>
void launch_kernel(dim3 grid, dim3 block, std::size_t shared, void (*kernel)(Params...), Args&&... args) {
  const std::tuple<std::decay_t<Params>...> copies(std::forward<Args>(args)...);
  launch(grid, block, shared, [&] { std::apply(kernel, copies); });
}
}  // namespace subq_emulation
