#pragma once
// Internal: the CUDA runtime calls core needs (device memory and copies). Implemented by
// cuda_runtime_cuda.cpp in CUDA builds and by cuda_runtime_none.cpp, which throws, otherwise.
#include <cstddef>

#include "core/device.hpp"

namespace subq::detail {

/// Device memory from a cache of freed blocks, else cudaMalloc; cuda_free returns it to the
/// cache and takes the byte count given to cuda_allocate.
void* cuda_allocate(std::size_t bytes, int device);
void cuda_free(void* ptr, std::size_t bytes, int device) noexcept;
/// Sets bytes to zero on any device.
void fill_zero(void* ptr, Device device, std::size_t bytes);
/// Copies bytes between any two devices (host <-> device, device <-> device) and waits.
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes);

}  // namespace subq::detail
