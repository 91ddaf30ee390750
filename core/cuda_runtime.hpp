#pragma once
// Internal: the CUDA runtime calls core needs (device memory and copies). Implemented by
// cuda_runtime_cuda.cpp in CUDA builds and by cuda_runtime_none.cpp, which throws, otherwise.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/device.hpp"
#include "core/dtype.hpp"

namespace subq::detail {

/// Device memory from a cache of freed blocks, else cudaMalloc; cuda_free returns it to the
/// cache and takes the byte count given to cuda_allocate.
void* cuda_allocate(std::size_t bytes, int device);
void cuda_free(void* ptr, std::size_t bytes, int device) noexcept;
/// Frees the cached device blocks.
void cuda_release_cache() noexcept;
/// Sets bytes to zero on any device.
void fill_zero(void* ptr, Device device, std::size_t bytes);
/// Copies bytes between any two devices (host <-> device, device <-> device) and waits.
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes);
/// Gathers a strided view on a CUDA device into contiguous memory on the same device: `src`
/// points at element [0, ..., 0], shape and strides (in elements) describe the view, elements
/// are element_size bytes (1, 2, 4, 8 or 16).
void copy_strided(void* dst, const void* src, const std::vector<std::int64_t>& shape,
                  const std::vector<std::int64_t>& strides, std::size_t element_size, Device device);
/// The same gather, converting between floating dtypes (float32, float64, bfloat16, float16).
void convert_strided(void* dst, DType to, const void* src, DType from, const std::vector<std::int64_t>& shape,
                     const std::vector<std::int64_t>& strides, Device device);

}  // namespace subq::detail
