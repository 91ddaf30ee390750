#include <cuda_runtime_api.h>

#include <cstring>

#include "core/check.hpp"
#include "core/cuda_runtime.hpp"

namespace subq {

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
}  // namespace

bool cuda_available() { return probe().ok; }
std::string cuda_status() { return probe().status; }

namespace detail {

void* cuda_allocate(std::size_t bytes, int device) {
  SUBQ_CHECK(cuda_available(), "cannot allocate CUDA memory: {}", cuda_status());
  SUBQ_CHECK(cudaSetDevice(device) == cudaSuccess, "cudaSetDevice({}) failed", device);
  void* ptr = nullptr;
  cudaError_t err = cudaMalloc(&ptr, bytes ? bytes : 1);
  SUBQ_CHECK(err == cudaSuccess, "cudaMalloc of {} bytes on cuda:{} failed: {}", bytes, device,
             cudaGetErrorString(err));
  return ptr;
}

void cuda_free(void* ptr, int device) noexcept {
  cudaSetDevice(device);
  cudaFree(ptr);
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes) {
  if (bytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, bytes);
    return;
  }
  cudaError_t err = cudaMemcpy(dst, src, bytes, cudaMemcpyDefault);
  SUBQ_CHECK(err == cudaSuccess, "copy of {} bytes {} -> {} failed: {}", bytes, to_string(src_device),
             to_string(dst_device), cudaGetErrorString(err));
}

}  // namespace detail
}  // namespace subq
