// CUDA gather of a strided view into contiguous memory (Tensor::contiguous and clone on a GPU):
// one thread per element, its source offset from the element's index digit by digit.
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "core/cuda_launch.cuh"
#include "core/strided_copy_cuda.hpp"

namespace subq::detail {

namespace {

template <class E>
__global__ void gather_strided(E* __restrict__ dst, const E* __restrict__ src, StridedLayout layout, std::int64_t n) {
  SUBQ_GRID_STRIDE(i, n) {
    std::int64_t rest = i, offset = 0;
    for (int d = layout.dims - 1; d >= 0; --d) {
      offset += (rest % layout.shape[d]) * layout.strides[d];
      rest /= layout.shape[d];
    }
    dst[i] = src[offset];
  }
}

struct alignas(16) Bytes16 {
  std::uint64_t lo, hi;
};

template <class E>
std::string launch(void* dst, const void* src, const StridedLayout& layout, std::int64_t n) {
  gather_strided<E><<<elementwise_blocks(n), kElementwiseThreads>>>(static_cast<E*>(dst), static_cast<const E*>(src),
                                                                    layout, n);
  return launch_status();
}

}  // namespace

std::string launch_copy_strided(void* dst, const void* src, const StridedLayout& layout, std::size_t element_size) {
  std::int64_t n = 1;
  for (int d = 0; d < layout.dims; ++d) n *= layout.shape[d];
  if (n == 0) return {};
  switch (element_size) {
    case 1: return launch<std::uint8_t>(dst, src, layout, n);
    case 2: return launch<std::uint16_t>(dst, src, layout, n);
    case 4: return launch<std::uint32_t>(dst, src, layout, n);
    case 8: return launch<std::uint64_t>(dst, src, layout, n);
    case 16: return launch<Bytes16>(dst, src, layout, n);
    default: return "unsupported element size " + std::to_string(element_size);
  }
}

}  // namespace subq::detail
