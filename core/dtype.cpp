#include "core/dtype.hpp"

#include "core/check.hpp"

namespace subq {

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F32: return 4;
    case DType::F64: return 8;
    case DType::BF16: return 2;
    case DType::F16: return 2;
    case DType::I32: return 4;
    case DType::I64: return 8;
    case DType::I8: return 1;
    case DType::U8: return 1;
    case DType::Bool: return 1;
    case DType::C64: return 8;
    case DType::C128: return 16;
    case DType::Q8_0:
    case DType::Q4_0:
      SUBQ_FAIL("dtype_size: {} is stored in blocks of {} elements, not per element", dtype_name(dtype),
                dtype_block(dtype));
  }
  SUBQ_FAIL("dtype_size: invalid dtype {}", int(dtype));
}

std::size_t storage_bytes(DType dtype, std::int64_t numel) {
  const std::int64_t block = dtype_block(dtype);
  SUBQ_CHECK(numel >= 0 && numel % block == 0, "{}: {} elements are not whole blocks of {}", dtype_name(dtype), numel,
             block);
  if (!is_quantized(dtype)) return std::size_t(numel) * dtype_size(dtype);
  const std::size_t block_bytes = dtype == DType::Q8_0 ? 34 : 18;  // float16 scale + the codes
  return std::size_t(numel / block) * block_bytes;
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32: return "float32";
    case DType::F64: return "float64";
    case DType::BF16: return "bfloat16";
    case DType::F16: return "float16";
    case DType::I32: return "int32";
    case DType::I64: return "int64";
    case DType::I8: return "int8";
    case DType::U8: return "uint8";
    case DType::Bool: return "bool";
    case DType::C64: return "complex64";
    case DType::C128: return "complex128";
    case DType::Q8_0: return "q8_0";
    case DType::Q4_0: return "q4_0";
  }
  return "invalid";
}

bool is_floating(DType d) { return d == DType::F32 || d == DType::F64 || d == DType::BF16 || d == DType::F16; }
bool is_complex(DType d) { return d == DType::C64 || d == DType::C128; }

float to_float(float16 x) {
  const std::uint32_t sign = std::uint32_t(x.bits & 0x8000u) << 16;
  std::uint32_t exponent = (x.bits >> 10) & 0x1fu;
  std::uint32_t mantissa = x.bits & 0x3ffu;
  std::uint32_t u;
  if (exponent == 0x1f) {
    u = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    u = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    u = sign;
  } else {  // subnormal: normalise
    exponent = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    u = sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float16 to_float16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  const std::uint16_t sign = std::uint16_t((u >> 16) & 0x8000u);
  const std::uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return {std::uint16_t(sign | 0x7e00u)};  // NaN
  if (abs >= 0x477ff000u) return {std::uint16_t(sign | 0x7c00u)};  // rounds to inf
  if (abs < 0x38800000u) {                                          // subnormal or zero in f16
    if (abs < 0x33000000u) return {sign};
    const std::uint32_t exponent = abs >> 23;
    const std::uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126 - exponent;  // 14..24
    std::uint32_t half = mantissa >> shift;
    const std::uint32_t rest = mantissa & ((1u << shift) - 1);
    const std::uint32_t halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (half & 1u))) ++half;
    return {std::uint16_t(sign | half)};
  }
  std::uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);
  return {std::uint16_t(sign | ((rounded - 0x38000000u) >> 13))};
}

}  // namespace subq
