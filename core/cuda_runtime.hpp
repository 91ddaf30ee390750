#pragma once
// Internal: the CUDA runtime calls core needs (the device probe, device memory, copies), defined
// in core/cuda_runtime.cpp in CUDA builds only and reached through on_cuda (core/check.hpp).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/device.hpp"
#include "core/dtype.hpp"

namespace subq::detail {

/// Whether a CUDA device can be used, and why or why not in words; probed once.
bool cuda_device_usable();
std::string cuda_device_status();
/// Waits until all work queued on the device is done.
void cuda_synchronize(Device device);
/// Device memory from a cache of freed blocks, else cudaMalloc; cuda_free returns it to the
/// cache and takes the byte count given to cuda_allocate.
void* cuda_allocate(std::size_t bytes, int device);
void cuda_free(void* ptr, std::size_t bytes, int device) noexcept;
/// Frees the cached device blocks.
void cuda_release_cache() noexcept;
/// Sets bytes of device memory to zero.
void cuda_fill_zero(void* ptr, Device device, std::size_t bytes);
/// Copies bytes between two devices of which at least one is a GPU (host <-> device, device <->
/// device) and waits.
void cuda_copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes);
/// Gathers a strided view on a CUDA device into contiguous memory on the same device: `src`
/// points at element [0, ..., 0], shape and strides (in elements) describe the view, elements
/// are element_size bytes (1, 2, 4, 8 or 16).
void copy_strided(void* dst, const void* src, const std::vector<std::int64_t>& shape,
                  const std::vector<std::int64_t>& strides, std::size_t element_size, Device device);
/// The same gather, converting between floating dtypes (float32, float64, bfloat16, float16).
void convert_strided(void* dst, DType to, const void* src, DType from, const std::vector<std::int64_t>& shape,
                     const std::vector<std::int64_t>& strides, Device device);
/// Contiguous rows (count, n) of a q format (q8_0, q4_0) on a CUDA device widened to float32.
void widen_quantized(float* dst, const void* src, DType format, std::int64_t n, std::int64_t count, Device device);

}  // namespace subq::detail
