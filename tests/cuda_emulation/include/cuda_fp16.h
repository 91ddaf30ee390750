#pragma once
// Emulated half precision (tests/cuda_emulation), through the compiler's _Float16.
#include "subq_cuda_emulation.hpp"

struct __half {
  _Float16 value;
};
inline float __half2float(__half x) { return float(x.value); }
inline __half __float2half(float f) { return {_Float16(f)}; }
