#pragma once
// Internal: the launchers of the strided gathers (core/strided_copy.cu), in plain types.
#include <cstddef>
#include <cstdint>
#include <string>

namespace subq::detail {

struct StridedLayout {
  static constexpr int kMaxDims = 8;
  int dims;
  std::int64_t shape[kMaxDims];
  std::int64_t strides[kMaxDims];  // in elements
};

/// Launches on the default stream; returns an error message, empty on success.
std::string launch_copy_strided(void* dst, const void* src, const StridedLayout& layout, std::size_t element_size);

enum class FloatFormat { F32, F64, BF16, F16 };

/// The same gather, each element converted from one floating format to another (rounded to
/// nearest, as the CPU's conversions do).
std::string launch_convert_strided(void* dst, FloatFormat to, const void* src, FloatFormat from,
                                   const StridedLayout& layout);

}  // namespace subq::detail
