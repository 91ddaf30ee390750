// CUDA RWKV-7 WKV, the recurrent form of recurrent/wkv7.cpp being its spec. One block per batch x
// head, one thread per value row j holding the state row S[j, :] in registers; a tile of steps'
// r, exp(w), k, a and b rows is staged in shared memory for all rows. Per step and row:
//   sa = S[j, :] . a,   S[j, :] = S[j, :] * exp(w) + sa b + v[j] k,   o[j] = S[j, :] . r
#include <cuda_runtime.h>

#include "core/cuda_launch.cuh"
#include "recurrent/wkv_cuda.hpp"
#include "recurrent/wkv_kernels.cuh"

namespace subq::recurrent::detail {

namespace {

using subq::detail::convert;

template <class T, class S, int kDk>
__global__ void wkv7_kernel(Wkv7CudaParams p) {
  constexpr int kSteps = steps_per_tile<kDk>() < 8 ? steps_per_tile<kDk>() : 8;  // five tiles in 40 KiB
  __shared__ S r_tile[kSteps][kDk], decay_tile[kSteps][kDk], k_tile[kSteps][kDk], a_tile[kSteps][kDk],
      b_tile[kSteps][kDk];
  const std::int64_t bh = blockIdx.x, b = bh / p.s.heads, h = bh % p.s.heads;
  const std::int64_t L = p.s.length, H = p.s.heads, dk = p.s.dk, dv = p.s.dv, j = threadIdx.x;
  const S* initial = static_cast<const S*>(p.initial_state);
  S state[kDk];
#pragma unroll
  for (int i = 0; i < kDk; ++i) state[i] = initial && i < dk ? initial[(bh * dv + j) * dk + i] : S(0);
  const T* v = static_cast<const T*>(p.v);
  T* o = static_cast<T*>(p.o);
  for (std::int64_t t0 = 0; t0 < L; t0 += kSteps) {
    const int steps = int(L - t0 < kSteps ? L - t0 : kSteps);
    __syncthreads();  // the previous tile is consumed
    stage_key_rows<kDk, kSteps>(r_tile, static_cast<const T*>(p.r), b, h, t0, steps, L, H, dk, Identity<S>{});
    stage_key_rows<kDk, kSteps>(decay_tile, static_cast<const T*>(p.w), b, h, t0, steps, L, H, dk, Exp<S>{});
    stage_key_rows<kDk, kSteps>(k_tile, static_cast<const T*>(p.k), b, h, t0, steps, L, H, dk, Identity<S>{});
    stage_key_rows<kDk, kSteps>(a_tile, static_cast<const T*>(p.a), b, h, t0, steps, L, H, dk, Identity<S>{});
    stage_key_rows<kDk, kSteps>(b_tile, static_cast<const T*>(p.b), b, h, t0, steps, L, H, dk, Identity<S>{});
    __syncthreads();
    for (int s = 0; s < steps; ++s) {
      const std::int64_t row = (b * L + t0 + s) * H + h;
      const S vj = convert<S>(v[row * dv + j]);
      S sa = S(0), y = S(0);
#pragma unroll
      for (int i = 0; i < kDk; ++i)
        if (i < dk) sa += state[i] * a_tile[s][i];  // from the state before the step
#pragma unroll
      for (int i = 0; i < kDk; ++i)
        if (i < dk) {
          state[i] = state[i] * decay_tile[s][i] + sa * b_tile[s][i] + vj * k_tile[s][i];
          y += state[i] * r_tile[s][i];
        }
      o[row * dv + j] = convert<T>(y);
    }
  }
  S* final_state = static_cast<S*>(p.final_state);
#pragma unroll
  for (int i = 0; i < kDk; ++i)
    if (i < dk) final_state[(bh * dv + j) * dk + i] = state[i];
}

}  // namespace

std::string launch_wkv7(const Wkv7CudaParams& p) {
  return with_input_types(p.s.input, "wkv7", [&](auto input, auto state) {
    using T = typename decltype(input)::type;
    using S = typename decltype(state)::type;
    return with_key_dim(p.s.dk, "wkv7", [&](auto key_dim) {
      wkv7_kernel<T, S, decltype(key_dim)::value><<<unsigned(p.s.batch * p.s.heads), unsigned(p.s.dv)>>>(p);
      return subq::detail::launch_status();
    });
  });
}

}  // namespace subq::recurrent::detail
