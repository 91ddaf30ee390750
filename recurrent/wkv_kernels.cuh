#pragma once
// Device code shared by the WKV kernels: the choice of compute types for an input dtype, the
// choice of the per-thread state size for d_k, and the staging of a tile of steps' key-sized rows
// in shared memory.
#include <cuda_bf16.h>

#include <cstdint>
#include <string>
#include <type_traits>

#include "core/cuda_convert.cuh"
#include "core/dtype.hpp"

namespace subq::recurrent::detail {

template <class T>
struct TypeTag {
  using type = T;
};

/// f(TypeTag<input type>, TypeTag<state type>): float32 and bfloat16 inputs keep float32 states,
/// float64 inputs float64 ones.
template <class F>
std::string with_input_types(DType input, const char* op, F f) {
  switch (input) {
    case DType::F32: return f(TypeTag<float>{}, TypeTag<float>{});
    case DType::F64: return f(TypeTag<double>{}, TypeTag<double>{});
    case DType::BF16: return f(TypeTag<__nv_bfloat16>{}, TypeTag<float>{});
    default: return std::string(op) + " on CUDA takes float32, float64 or bfloat16 inputs";
  }
}

/// f(std::integral_constant<int, kDk>) with kDk the smallest of 32, 64, 128, 256 holding dk: each
/// thread keeps kDk state entries in registers, indexed by unrolled loops.
template <class F>
std::string with_key_dim(std::int64_t dk, const char* op, F f) {
  if (dk <= 32) return f(std::integral_constant<int, 32>{});
  if (dk <= 64) return f(std::integral_constant<int, 64>{});
  if (dk <= 128) return f(std::integral_constant<int, 128>{});
  if (dk <= 256) return f(std::integral_constant<int, 256>{});
  return std::string(op) + " on CUDA takes d_k up to 256";
}

/// Steps staged in shared memory at once: 1024 key-sized values per input, at most 16 steps.
template <int kDk>
constexpr int steps_per_tile() {
  return 1024 / kDk < 16 ? 1024 / kDk : 16;
}

/// tile[s][i] = transform(src[row(t0 + s) + i]) for s < steps, i < dk, with rows of the
/// (batch, length, heads, d_k) input at (b, t, h); by all threads of the block.
template <int kDk, int kSteps, class S, class T, class Transform>
__device__ void stage_key_rows(S (*tile)[kDk], const T* src, std::int64_t b, std::int64_t h, std::int64_t t0, int steps,
                               std::int64_t L, std::int64_t H, std::int64_t dk, Transform transform) {
  for (std::int64_t e = threadIdx.x; e < steps * dk; e += blockDim.x) {
    const std::int64_t s = e / dk, i = e % dk;
    tile[s][i] = transform(subq::detail::convert<S>(src[((b * L + t0 + s) * H + h) * dk + i]));
  }
}

template <class S>
struct Identity {
  __device__ S operator()(S x) const { return x; }
};

template <class S>
struct Exp {
  __device__ S operator()(S x) const { return exp(x); }
};

}  // namespace subq::recurrent::detail
