#include <cstring>

#include "core/check.hpp"
#include "core/cuda_runtime.hpp"
#include "core/dense_cuda.hpp"

namespace subq {

bool cuda_available() { return false; }
std::string cuda_status() { return "this build of subq has no CUDA backend (configured with SUBQ_CUDA=OFF or without nvcc)"; }

void synchronize(Device device) {
  SUBQ_CHECK(device.is_cpu(), "synchronize({}): {}", to_string(device), cuda_status());
}

namespace detail {

void* cuda_allocate(std::size_t, int) { SUBQ_FAIL("cannot allocate CUDA memory: {}", cuda_status()); }
void cuda_free(void*, std::size_t, int) noexcept {}
void cuda_release_cache() noexcept {}

void fill_zero(void* ptr, Device device, std::size_t bytes) {
  SUBQ_CHECK(device.is_cpu(), "cannot fill {} memory: {}", to_string(device), cuda_status());
  std::memset(ptr, 0, bytes);
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes) {
  SUBQ_CHECK(dst_device.is_cpu() && src_device.is_cpu(), "cannot copy {} -> {}: {}", to_string(src_device),
             to_string(dst_device), cuda_status());
  if (bytes) std::memcpy(dst, src, bytes);
}

void copy_strided(void*, const void*, const std::vector<std::int64_t>&, const std::vector<std::int64_t>&, std::size_t,
                  Device device) {
  SUBQ_FAIL("cannot copy on {}: {}", to_string(device), cuda_status());
}
void convert_strided(void*, DType, const void*, DType, const std::vector<std::int64_t>&,
                     const std::vector<std::int64_t>&, Device device) {
  SUBQ_FAIL("cannot convert on {}: {}", to_string(device), cuda_status());
}

// No CUDA tensor can exist in this build, so the dense layers' CUDA paths are never reached.
Tensor linear_cuda(const Tensor& x, const Tensor&, const Tensor&) {
  SUBQ_FAIL("linear on {}: {}", to_string(x.device()), cuda_status());
}
Tensor rms_norm_cuda(const Tensor& x, const Tensor&, double, const Tensor&) {
  SUBQ_FAIL("rms_norm on {}: {}", to_string(x.device()), cuda_status());
}
Tensor group_norm_cuda(const Tensor& x, std::int64_t, const Tensor&, const Tensor&, double) {
  SUBQ_FAIL("group_norm on {}: {}", to_string(x.device()), cuda_status());
}
Tensor rotary_cuda(const Tensor& x, std::int64_t, double) {
  SUBQ_FAIL("rotary on {}: {}", to_string(x.device()), cuda_status());
}
Tensor scale_cuda(const Tensor& x, double) {
  SUBQ_FAIL("scale on {}: {}", to_string(x.device()), cuda_status());
}
void add_into_cuda(const Tensor& h, const Tensor&) {
  SUBQ_FAIL("add_into on {}: {}", to_string(h.device()), cuda_status());
}
Tensor embedding_cuda(const Tensor& table, const Tensor&) {
  SUBQ_FAIL("embedding on {}: {}", to_string(table.device()), cuda_status());
}

}  // namespace detail
}  // namespace subq
