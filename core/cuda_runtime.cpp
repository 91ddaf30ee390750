// The CUDA runtime calls core needs (core/cuda_runtime.hpp); compiled in CUDA builds only.
#include "core/cuda_runtime.hpp"

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/block_cache.hpp"
#include "core/check.hpp"
#include "core/strided_copy_cuda.hpp"
#include "core/weight_rows_cuda.hpp"

namespace subq::detail {

namespace {
// Without a GPU, cudaGetDeviceCount fails (e.g. error 35, insufficient driver) and leaves the
// count untouched, so the return code decides.
struct CudaProbe {
  bool ok = false;
  std::string status;
  CudaProbe() {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
      status = fmt::format("no usable CUDA device: cudaGetDeviceCount failed with {} ({})", int(err),
                           cudaGetErrorString(err));
      cudaGetLastError();
    } else if (count == 0) {
      status = "no CUDA device found";
    } else {
      cudaDeviceProp prop{};
      cudaGetDeviceProperties(&prop, 0);
      ok = true;
      status = fmt::format("{} CUDA device(s); device 0: {} (sm_{}{})", count, prop.name, prop.major, prop.minor);
    }
  }
};
const CudaProbe& probe() {
  static const CudaProbe p;
  return p;
}

// No cap: device memory is the process's own, and an allocation that fails releases the cache
// and tries once more.
BlockCache& block_cache() {
  static auto* cache = new BlockCache(  // never destroyed: blocks may be freed during exit
      [](void* ptr, int device) {
        cudaSetDevice(device);
        cudaFree(ptr);
      },
      SIZE_MAX);
  return *cache;
}

}  // namespace

bool cuda_device_usable() { return probe().ok; }
std::string cuda_device_status() { return probe().status; }

void cuda_synchronize(Device device) {
  const cudaError_t err = cudaDeviceSynchronize();
  SUBQ_CHECK(err == cudaSuccess, "synchronize({}): {}", to_string(device), cudaGetErrorString(err));
}

void* cuda_allocate(std::size_t bytes, int device) {
  SUBQ_CHECK(cuda_device_usable(), "cannot allocate CUDA memory: {}", cuda_device_status());
  SUBQ_CHECK(cudaSetDevice(device) == cudaSuccess, "cudaSetDevice({}) failed", device);
  const std::size_t size = BlockCache::rounded(bytes);
  void* ptr = block_cache().take(size, device);
  if (ptr == nullptr) {
    cudaError_t err = cudaMalloc(&ptr, size);
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      block_cache().release();
      err = cudaMalloc(&ptr, size);
    }
    SUBQ_CHECK(err == cudaSuccess, "cudaMalloc of {} bytes on cuda:{} failed: {}", bytes, device,
               cudaGetErrorString(err));
  }
  return ptr;
}

void cuda_free(void* ptr, std::size_t bytes, int device) noexcept {
  block_cache().give(ptr, BlockCache::rounded(bytes), device);
}

void cuda_release_cache() noexcept { block_cache().release(); }

void cuda_fill_zero(void* ptr, Device device, std::size_t bytes) {
  const cudaError_t err = cudaMemset(ptr, 0, bytes);
  SUBQ_CHECK(err == cudaSuccess, "cudaMemset of {} bytes on {} failed: {}", bytes, to_string(device),
             cudaGetErrorString(err));
}

void cuda_copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes) {
  cudaError_t err = cudaMemcpy(dst, src, bytes, cudaMemcpyDefault);
  SUBQ_CHECK(err == cudaSuccess, "copy of {} bytes {} -> {} failed: {}", bytes, to_string(src_device),
             to_string(dst_device), cudaGetErrorString(err));
}

namespace {

StridedLayout strided_layout(const std::vector<std::int64_t>& shape, const std::vector<std::int64_t>& strides,
                             Device device) {
  SUBQ_CHECK(shape.size() <= std::size_t(StridedLayout::kMaxDims), "strided copy on {}: {} dimensions, at most {}",
             to_string(device), shape.size(), StridedLayout::kMaxDims);
  StridedLayout layout{int(shape.size()), {}, {}};
  for (std::size_t d = 0; d < shape.size(); ++d) layout.shape[d] = shape[d], layout.strides[d] = strides[d];
  SUBQ_CHECK(cudaSetDevice(device.index) == cudaSuccess, "cudaSetDevice({}) failed", device.index);
  return layout;
}

FloatFormat float_format(DType dtype) {
  switch (dtype) {
    case DType::F32: return FloatFormat::F32;
    case DType::F64: return FloatFormat::F64;
    case DType::BF16: return FloatFormat::BF16;
    case DType::F16: return FloatFormat::F16;
    default: SUBQ_FAIL("dtype conversion on a GPU: {} is not a floating dtype (float32, float64, bfloat16, float16)",
                       dtype_name(dtype));
  }
}

}  // namespace

void copy_strided(void* dst, const void* src, const std::vector<std::int64_t>& shape,
                  const std::vector<std::int64_t>& strides, std::size_t element_size, Device device) {
  const StridedLayout layout = strided_layout(shape, strides, device);
  check_launch("strided copy", device, launch_copy_strided(dst, src, layout, element_size));
}

void convert_strided(void* dst, DType to, const void* src, DType from, const std::vector<std::int64_t>& shape,
                     const std::vector<std::int64_t>& strides, Device device) {
  const FloatFormat to_format = float_format(to), from_format = float_format(from);
  const StridedLayout layout = strided_layout(shape, strides, device);
  check_launch("dtype conversion", device, launch_convert_strided(dst, to_format, src, from_format, layout));
}

void widen_quantized(float* dst, const void* src, DType format, std::int64_t n, std::int64_t count, Device device) {
  SUBQ_CHECK(cudaSetDevice(device.index) == cudaSuccess, "cudaSetDevice({}) failed", device.index);
  check_launch("dtype conversion", device,
               launch_widen_rows(format, src, n, storage_bytes(format, n), nullptr, count, dst));
}

}  // namespace subq::detail
