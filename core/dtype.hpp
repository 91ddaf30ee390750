#pragma once
// Element types of subq tensors, and the bf16/f16 <-> f32 conversions.
//
// Two are block-quantised weight formats, stored as llama.cpp's ggml stores them: the elements
// of each row of a matrix in blocks of 32 (the last extent a multiple of 32), each block a
// float16 scale d followed by its codes (core/weight_rows.hpp quantises and reads them).
//   q8_0  34 bytes per block: d, then 32 int8 codes q;  element i = d * q[i]
//   q4_0  18 bytes per block: d, then 16 bytes, byte j holding element j in its low nibble and
//         element j + 16 in its high nibble, codes 0..15;  element = d * (code - 8)
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "complex.hpp"

namespace subq {

enum class DType : std::uint8_t { F32, F64, BF16, F16, I32, I64, I8, U8, Bool, C64, C128, Q8_0, Q4_0 };

constexpr bool is_quantized(DType dtype) { return dtype == DType::Q8_0 || dtype == DType::Q4_0; }
/// Bytes per element; an error for the block formats, whose elements have no bytes of their own.
std::size_t dtype_size(DType dtype);
/// Elements per block: 32 for q8_0 and q4_0, 1 for the other dtypes.
constexpr std::int64_t dtype_block(DType dtype) { return is_quantized(dtype) ? 32 : 1; }
/// Bytes that `numel` elements occupy (numel a multiple of dtype_block), for every dtype.
std::size_t storage_bytes(DType dtype, std::int64_t numel);
/// Lower-case name as numpy writes it: "float32", "bfloat16", "complex64", ...
std::string_view dtype_name(DType dtype);
bool is_floating(DType dtype);  // F32, F64, BF16, F16
bool is_complex(DType dtype);   // C64, C128

/// Storage types of the 16-bit floats: the raw bits; convert with the functions below.
struct bfloat16 {
  std::uint16_t bits;
};
struct float16 {
  std::uint16_t bits;
};

inline float to_float(bfloat16 x) {
  std::uint32_t u = std::uint32_t(x.bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

/// Round to nearest even, as PyTorch does; NaN stays NaN.
inline bfloat16 to_bfloat16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return {std::uint16_t((u >> 16) | 0x40)};
  u += 0x7fffu + ((u >> 16) & 1u);
  return {std::uint16_t(u >> 16)};
}

float to_float(float16 x);
float16 to_float16(float f);

template <class T>
struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::F32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::F64; };
template <> struct DTypeOf<bfloat16> { static constexpr DType value = DType::BF16; };
template <> struct DTypeOf<float16> { static constexpr DType value = DType::F16; };
template <> struct DTypeOf<std::int32_t> { static constexpr DType value = DType::I32; };
template <> struct DTypeOf<std::int64_t> { static constexpr DType value = DType::I64; };
template <>
struct DTypeOf<std::int8_t> {
  static constexpr DType value = DType::I8;
};
template <> struct DTypeOf<std::uint8_t> { static constexpr DType value = DType::U8; };
template <> struct DTypeOf<bool> { static constexpr DType value = DType::Bool; };
template <> struct DTypeOf<complex64> { static constexpr DType value = DType::C64; };
template <> struct DTypeOf<complex128> { static constexpr DType value = DType::C128; };

template <class T>
inline constexpr DType dtype_of = DTypeOf<T>::value;

}  // namespace subq
