#pragma once
// Emulated bfloat16 (tests/cuda_emulation): the library's own conversions, rounded to nearest
// even as the GPU's are.
#include <cstdint>

#include "core/dtype.hpp"
#include "subq_cuda_emulation.hpp"

struct __nv_bfloat16 {
  std::uint16_t bits;
};
inline float __bfloat162float(__nv_bfloat16 x) { return subq::to_float(subq::bfloat16{x.bits}); }
inline __nv_bfloat16 __float2bfloat16(float f) { return {subq::to_bfloat16(f).bits}; }
