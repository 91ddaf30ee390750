// CUDA kernels of core/weight_rows_cuda.hpp (the CPU path in core/weight_rows.cpp is their spec):
// the element at (row, i) of a float32, bfloat16, float16, q8_0 or q4_0 row, read from its bytes;
// a grid-stride widening and a block-per-row dot product.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstring>
#include <cub/block/block_reduce.cuh>

#include "core/cuda_launch.cuh"
#include "core/weight_rows_cuda.hpp"

namespace subq::detail {

namespace {

// Threads per row of the dot product: consecutive threads read consecutive elements (a warp one
// q block's codes), and a 130M model's rows (768 to 3072 elements) give each 6 to 24 of them.
constexpr int kDotThreads = 128;

__device__ __forceinline__ float half_at(const unsigned char* p) {
  __half h;
  std::memcpy(&h, p, 2);
  return __half2float(h);
}

// Element i of a row, as widen_rows computes it (a q code times its block's scale).
template <DType F>
__device__ __forceinline__ float element(const unsigned char* row, std::int64_t i) {
  if constexpr (F == DType::F32) {
    float v;
    std::memcpy(&v, row + 4 * i, 4);
    return v;
  } else if constexpr (F == DType::BF16) {  // float32's upper half
    std::uint16_t bits16;
    std::memcpy(&bits16, row + 2 * i, 2);
    const std::uint32_t bits = std::uint32_t(bits16) << 16;
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
  } else if constexpr (F == DType::F16) {
    return half_at(row + 2 * i);
  } else if constexpr (F == DType::Q8_0) {  // 34-byte blocks: float16 scale, 32 int8 codes
    const unsigned char* block = row + 34 * (i / 32);
    return float(static_cast<signed char>(block[2 + i % 32])) * half_at(block);
  } else {  // Q4_0, 18-byte blocks: float16 scale, byte j holds element j (low) and j + 16 (high)
    const unsigned char* block = row + 18 * (i / 32);
    const int j = int(i % 32), byte = block[2 + j % 16];
    return float((j < 16 ? byte & 15 : byte >> 4) - 8) * half_at(block);
  }
}

template <DType F>
__global__ void widen_kernel(const unsigned char* w, std::int64_t n, std::size_t row_bytes, const std::int64_t* ids,
                             std::int64_t count, float* out) {
  SUBQ_GRID_STRIDE(k, count * n) {
    const std::int64_t r = k / n, row = ids ? ids[r] : r;
    out[k] = element<F>(w + row * row_bytes, k % n);
  }
}

// One block per row: each thread sums every kDotThreads-th element for all V vectors, then the
// block reduces each vector's sums.
template <DType F, int V>
__global__ void __launch_bounds__(kDotThreads) dot_kernel(const unsigned char* w, std::int64_t n, std::size_t row_bytes,
                                                          std::int64_t rows, const float* x, float* y) {
  using Reduce = cub::BlockReduce<float, kDotThreads>;
  __shared__ typename Reduce::TempStorage temp;
  const std::int64_t r = blockIdx.x;
  const unsigned char* row = w + r * row_bytes;
  float sum[V] = {};
  for (std::int64_t i = threadIdx.x; i < n; i += kDotThreads) {
    const float weight = element<F>(row, i);
    for (int v = 0; v < V; ++v) sum[v] += weight * x[v * n + i];
  }
  for (int v = 0; v < V; ++v) {
    const float total = Reduce(temp).Sum(sum[v]);
    if (threadIdx.x == 0) y[v * rows + r] = total;
    __syncthreads();  // temp is reused by the next vector's reduction
  }
}

template <class Fn>
std::string with_format(DType format, Fn&& fn) {
  return visit_weight_format(format, fn, [&] { return "not a weight format: " + std::string(dtype_name(format)); });
}

}  // namespace

std::string launch_widen_rows(DType format, const void* w, std::int64_t n, std::size_t row_bytes,
                              const std::int64_t* ids, std::int64_t count, float* out) {
  return with_format(format, [&](auto f) {
    return launch_elementwise(widen_kernel<decltype(f)::value>, count * n, static_cast<const unsigned char*>(w), n,
                              row_bytes, ids, count, out);
  });
}

std::string launch_dot_rows(DType format, const void* w, std::int64_t n, std::size_t row_bytes, std::int64_t rows,
                            const float* x, int vectors, float* y) {
  if (vectors < 1 || vectors > kMaxDotVectors) return "dot_rows: " + std::to_string(vectors) + " vectors";
  if (rows == 0) return {};
  if (rows > 0x7fffffff) return "dot_rows: " + std::to_string(rows) + " rows exceed the grid";
  const auto* bytes = static_cast<const unsigned char*>(w);
  return with_format(format, [&](auto f) {
    constexpr DType F = decltype(f)::value;
    switch (vectors) {
      case 1: dot_kernel<F, 1><<<unsigned(rows), kDotThreads>>>(bytes, n, row_bytes, rows, x, y); break;
      case 2: dot_kernel<F, 2><<<unsigned(rows), kDotThreads>>>(bytes, n, row_bytes, rows, x, y); break;
      case 3: dot_kernel<F, 3><<<unsigned(rows), kDotThreads>>>(bytes, n, row_bytes, rows, x, y); break;
      default: dot_kernel<F, 4><<<unsigned(rows), kDotThreads>>>(bytes, n, row_bytes, rows, x, y); break;
    }
    return launch_status();
  });
}

}  // namespace subq::detail
