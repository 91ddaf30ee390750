#pragma once
// Device code: conversions between the storage types kernels read and write (float, double,
// bfloat16, half, complex) and the types they compute in (float for the 16-bit formats).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

#include "core/complex.hpp"

namespace subq::detail {

/// The type a kernel computes in for a stored type: float for bfloat16 and half, else itself.
template <class T>
struct ComputeOf {
  using type = T;
};
template <>
struct ComputeOf<__nv_bfloat16> {
  using type = float;
};
template <>
struct ComputeOf<__half> {
  using type = float;
};

template <class To, class From>
__host__ __device__ __forceinline__ To convert(From x) {
  if constexpr (std::is_same_v<From, __nv_bfloat16>)
    return To(__bfloat162float(x));
  else if constexpr (std::is_same_v<From, __half>)
    return To(__half2float(x));
  else if constexpr (std::is_same_v<To, __nv_bfloat16>)
    return __float2bfloat16(float(x));
  else if constexpr (std::is_same_v<To, __half>)
    return __float2half(float(x));
  else
    return To(x);
}

}  // namespace subq::detail
