#pragma once
// Internal: the CUDA runtime calls core needs (device memory and copies). Implemented by
// cuda_runtime_cuda.cpp in CUDA builds and by cuda_runtime_none.cpp, which throws, otherwise.
#include <cstddef>

#include "core/device.hpp"

namespace subq::detail {

void* cuda_allocate(std::size_t bytes, int device);
void cuda_free(void* ptr, int device) noexcept;
/// Copies bytes between any two devices (host <-> device, device <-> device) and waits.
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes);

}  // namespace subq::detail
