#pragma once
// Device code: the block-wide scan of the scan core's Affine operator, shared by every CUDA
// kernel that scans along time (the linear recurrence, the selective scan). Warp shuffles scan
// 32 elements, a pass over the warp totals joins the warps. kThreads = 32 * kWarps.
#include "scan/scan_operator.hpp"

namespace subq::scan::detail {

// Warp shuffles of the scalar types, component by component for complex.
template <class T>
__device__ __forceinline__ T shfl_up(T x, int delta) {
  return __shfl_up_sync(0xffffffffu, x, delta);
}
template <class T>
__device__ __forceinline__ T shfl_down(T x, int delta) {
  return __shfl_down_sync(0xffffffffu, x, delta);
}
template <class T>
__device__ __forceinline__ Complex<T> shfl_up(Complex<T> x, int delta) {
  return {shfl_up(x.re, delta), shfl_up(x.im, delta)};
}
template <class T>
__device__ __forceinline__ Complex<T> shfl_down(Complex<T> x, int delta) {
  return {shfl_down(x.re, delta), shfl_down(x.im, delta)};
}
// The element `delta` lanes earlier in scan order (lower lanes forward, higher ones in reverse).
template <bool kReverse, class T>
__device__ __forceinline__ Affine<T> shfl_earlier(Affine<T> x, int delta) {
  if constexpr (kReverse)
    return {shfl_down(x.a, delta), shfl_down(x.b, delta)};
  else
    return {shfl_up(x.a, delta), shfl_up(x.b, delta)};
}

// Exclusive scan of one element per thread, in scan order (thread 0 first forward, last first in
// reverse). Returns the composition of the elements before this thread; `total` gets all of them.
template <int kWarps, bool kReverse, class Ts>
__device__ Affine<Ts> block_exclusive_scan(Affine<Ts> x, Affine<Ts>& total, Affine<Ts>* warp_totals) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int rank = kReverse ? 31 - lane : lane;  // position in scan order within the warp
  Affine<Ts> inclusive = x;
#pragma unroll
  for (int delta = 1; delta < 32; delta *= 2) {
    const Affine<Ts> earlier = shfl_earlier<kReverse>(inclusive, delta);
    if (rank >= delta) inclusive = compose(earlier, inclusive);
  }
  Affine<Ts> exclusive = shfl_earlier<kReverse>(inclusive, 1);
  if (rank == 0) exclusive = Affine<Ts>::identity();
  if (rank == 31) warp_totals[warp] = inclusive;
  __syncthreads();
  Affine<Ts> before = Affine<Ts>::identity();
  total = Affine<Ts>::identity();
#pragma unroll
  for (int i = 0; i < kWarps; ++i) {
    const int w = kReverse ? kWarps - 1 - i : i;
    if (w == warp) before = total;
    total = compose(total, warp_totals[w]);
  }
  __syncthreads();  // warp_totals is rewritten by the next tile
  return compose(before, exclusive);
}

}  // namespace subq::scan::detail
