#pragma once
// Internal: the launcher of the strided gather (core/strided_copy.cu), in plain types.
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

}  // namespace subq::detail
