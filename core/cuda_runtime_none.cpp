#include <cstring>

#include "core/check.hpp"
#include "core/cuda_runtime.hpp"

namespace subq {

bool cuda_available() { return false; }
std::string cuda_status() { return "this build of subq has no CUDA backend (configured with SUBQ_CUDA=OFF or without nvcc)"; }

void synchronize(Device device) {
  SUBQ_CHECK(device.is_cpu(), "synchronize({}): {}", to_string(device), cuda_status());
}

namespace detail {

void* cuda_allocate(std::size_t, int) { SUBQ_FAIL("cannot allocate CUDA memory: {}", cuda_status()); }
void cuda_free(void*, std::size_t, int) noexcept {}

void fill_zero(void* ptr, Device device, std::size_t bytes) {
  SUBQ_CHECK(device.is_cpu(), "cannot fill {} memory: {}", to_string(device), cuda_status());
  std::memset(ptr, 0, bytes);
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes) {
  SUBQ_CHECK(dst_device.is_cpu() && src_device.is_cpu(), "cannot copy {} -> {}: {}", to_string(src_device),
             to_string(dst_device), cuda_status());
  if (bytes) std::memcpy(dst, src, bytes);
}

}  // namespace detail
}  // namespace subq
