// CUDA gather of a strided view into contiguous memory (Tensor::contiguous, clone and, with a
// conversion, to(DType) on a GPU): one thread per element, its source offset from the element's
// index digit by digit.
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "core/cuda_convert.cuh"
#include "core/cuda_launch.cuh"
#include "core/strided_copy_cuda.hpp"

namespace subq::detail {

namespace {

__device__ __forceinline__ std::int64_t source_offset(const StridedLayout& layout, std::int64_t i) {
  std::int64_t offset = 0;
  for (int d = layout.dims - 1; d >= 0; --d) {
    offset += (i % layout.shape[d]) * layout.strides[d];
    i /= layout.shape[d];
  }
  return offset;
}

template <class E>
__global__ void gather_strided(E* __restrict__ dst, const E* __restrict__ src, StridedLayout layout, std::int64_t n) {
  SUBQ_GRID_STRIDE(i, n) dst[i] = src[source_offset(layout, i)];
}

template <class To, class From>
__global__ void gather_converted(To* __restrict__ dst, const From* __restrict__ src, StridedLayout layout, std::int64_t n) {
  SUBQ_GRID_STRIDE(i, n) dst[i] = convert<To>(convert<typename ComputeOf<From>::type>(src[source_offset(layout, i)]));
}

struct alignas(16) Bytes16 {
  std::uint64_t lo, hi;
};

template <class E>
std::string launch(void* dst, const void* src, const StridedLayout& layout, std::int64_t n) {
  return launch_elementwise(gather_strided<E>, n, static_cast<E*>(dst), static_cast<const E*>(src), layout, n);
}

std::int64_t element_count(const StridedLayout& layout) {
  std::int64_t n = 1;
  for (int d = 0; d < layout.dims; ++d) n *= layout.shape[d];
  return n;
}

// f(T{}) with T the storage type of the format.
template <class F>
std::string visit_format(FloatFormat format, F f) {
  switch (format) {
    case FloatFormat::F32: return f(float{});
    case FloatFormat::F64: return f(double{});
    case FloatFormat::BF16: return f(__nv_bfloat16{});
    case FloatFormat::F16: return f(__half{});
  }
  return "unknown floating format";
}

}  // namespace

std::string launch_convert_strided(void* dst, FloatFormat to, const void* src, FloatFormat from,
                                   const StridedLayout& layout) {
  const std::int64_t n = element_count(layout);
  return visit_format(to, [&](auto to_zero) {
    return visit_format(from, [&](auto from_zero) {
      using To = decltype(to_zero);
      using From = decltype(from_zero);
      return launch_elementwise(gather_converted<To, From>, n, static_cast<To*>(dst), static_cast<const From*>(src), layout,
                                n);
    });
  });
}

std::string launch_copy_strided(void* dst, const void* src, const StridedLayout& layout, std::size_t element_size) {
  const std::int64_t n = element_count(layout);
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
