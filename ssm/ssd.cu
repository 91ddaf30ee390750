// CUDA SSD chunk passes, the CPU path in ssm/ssd.cpp being their spec. One block per (batch,
// head, chunk) of at most kMaxCudaChunk steps; the products run over 32-wide tiles of N and P
// staged in shared memory (rows padded by one against bank conflicts):
//   pass 1: M = (C B^T masked, times exp(cs[l] - cs[s])), Y = M X, the chunk state
//           S = sum_s exp(cs[end] - cs[s]) X[s]^T B[s], the chunk decay exp(cs[end]);
//   pass 3: Y[l] += exp(cs[l]) C[l] H^T with H the state entering the chunk.
// cs is the cumulative sum of A within the chunk.
#include <cuda_runtime.h>

#include "core/cuda_launch.cuh"
#include "ssm/ssd_cuda.hpp"

namespace subq::ssm::detail {

namespace {

constexpr int kQ = int(kMaxCudaChunk);
constexpr int kTile = 32;
constexpr int kThreads = 256;

struct ChunkIndex {
  std::int64_t b, h, g, c, t0;
  int q;  // steps in this chunk
};

__device__ ChunkIndex chunk_index(const SsdCudaParams& p) {
  const std::int64_t c = blockIdx.x % p.chunks, bh = blockIdx.x / p.chunks;
  const std::int64_t b = bh / p.heads, h = bh % p.heads, t0 = c * p.Q;
  const int q = int(p.L - t0 < p.Q ? p.L - t0 : p.Q);
  return {b, h, h / (p.heads / p.groups), c, t0, q};
}

// cs[l] = A[t0] + ... + A[t0 + l], in shared memory.
__device__ void cumulative_a(const SsdCudaParams& p, const ChunkIndex& k, float* cs) {
  if (threadIdx.x == 0) {
    float sum = 0;
    for (int l = 0; l < k.q; ++l) cs[l] = sum += p.A[(k.b * p.L + k.t0 + l) * p.heads + k.h];
  }
  __syncthreads();
}

// rows x kTile columns [col0, col0 + kTile) of a (step, width) operand of this chunk into tile
// (row stride kTile + 1), zeros past the chunk or the width; row_scale[l] multiplies row l.
__device__ void stage_rows(const float* base, std::int64_t row_stride, int rows, std::int64_t width, std::int64_t col0,
                           const float* row_scale, float (*tile)[kTile + 1]) {
  for (int i = threadIdx.x; i < kQ * kTile; i += kThreads) {
    const int l = i / kTile, j = i % kTile;
    const bool inside = l < rows && col0 + j < width;
    tile[l][j] = inside ? base[l * row_stride + col0 + j] * (row_scale ? row_scale[l] : 1.0f) : 0.0f;
  }
}

// A block's threads share a (rows, kCols) result: this thread holds entries threadIdx.x,
// threadIdx.x + kThreads, ..., its e-th at (row, col) = (idx / kCols, idx % kCols).
template <int kCols>
__device__ __forceinline__ int2 held_entry(int e) {
  const int idx = threadIdx.x + e * kThreads;
  return {idx / kCols, idx % kCols};
}

// acc[e] += row r of a . row c of b over one kTile-wide tile, for each held entry (r, c) of a
// (kRows, kCols) result.
template <int kRows, int kCols>
__device__ void accumulate_row_products(const float (*a)[kTile + 1], const float (*b)[kTile + 1],
                                        float (&acc)[kRows * kCols / kThreads]) {
#pragma unroll
  for (int e = 0; e < kRows * kCols / kThreads; ++e) {
    const int2 rc = held_entry<kCols>(e);
    const int r = rc.x, c = rc.y;
    float sum = 0;
#pragma unroll 8
    for (int j = 0; j < kTile; ++j) sum += a[r][j] * b[c][j];
    acc[e] += sum;
  }
}

__global__ void __launch_bounds__(kThreads) ssd_chunk_kernel(SsdCudaParams p) {
  __shared__ float cs[kQ], to_end[kQ];
  __shared__ float M[kQ][kQ + 1];
  __shared__ float left[kQ][kTile + 1], right[kQ][kTile + 1];
  const ChunkIndex k = chunk_index(p);
  cumulative_a(p, k, cs);
  const std::int64_t bc_stride = p.groups * p.N, x_stride = p.heads * p.P;
  const float* Bc = p.B + ((k.b * p.L + k.t0) * p.groups + k.g) * p.N;
  const float* Cc = p.C + ((k.b * p.L + k.t0) * p.groups + k.g) * p.N;
  const float* Xc = p.X + ((k.b * p.L + k.t0) * p.heads + k.h) * p.P;

  // M = C B^T over N tiles, each thread accumulating its held entries (l, s).
  constexpr int kPerThread = kQ * kQ / kThreads;
  float acc[kPerThread] = {};
  for (std::int64_t n0 = 0; n0 < p.N; n0 += kTile) {
    stage_rows(Cc, bc_stride, k.q, p.N, n0, nullptr, left);
    stage_rows(Bc, bc_stride, k.q, p.N, n0, nullptr, right);
    __syncthreads();
    accumulate_row_products<kQ, kQ>(left, right, acc);
    __syncthreads();
  }
#pragma unroll
  for (int e = 0; e < kPerThread; ++e) {
    const int2 ls = held_entry<kQ>(e);
    const int l = ls.x, s = ls.y;
    M[l][s] = s <= l && l < k.q ? acc[e] * expf(cs[l] - cs[s]) : 0.0f;
  }
  for (int s = threadIdx.x; s < kQ; s += kThreads) to_end[s] = s < k.q ? expf(cs[k.q - 1] - cs[s]) : 0.0f;
  __syncthreads();

  // Y = M X, one kTile-wide column tile of P at a time.
  for (std::int64_t p0 = 0; p0 < p.P; p0 += kTile) {
    stage_rows(Xc, x_stride, k.q, p.P, p0, nullptr, left);
    __syncthreads();
    for (int i = threadIdx.x; i < kQ * kTile; i += kThreads) {
      const int l = i / kTile, j = i % kTile;
      if (l >= k.q || p0 + j >= p.P) continue;
      float sum = 0;
      for (int s = 0; s <= l; ++s) sum += M[l][s] * left[s][j];
      p.Y[((k.b * p.L + k.t0 + l) * p.heads + k.h) * p.P + p0 + j] = sum;
    }
    __syncthreads();
  }

  // The chunk's own state S (P, N) = X^T diag(to_end) B, one (P tile, N tile) at a time.
  const std::int64_t bh = k.b * p.heads + k.h;
  for (std::int64_t p0 = 0; p0 < p.P; p0 += kTile)
    for (std::int64_t n0 = 0; n0 < p.N; n0 += kTile) {
      stage_rows(Xc, x_stride, k.q, p.P, p0, to_end, left);
      stage_rows(Bc, bc_stride, k.q, p.N, n0, nullptr, right);
      __syncthreads();
      for (int i = threadIdx.x; i < kTile * kTile; i += kThreads) {
        const int pi = i / kTile, ni = i % kTile;
        if (p0 + pi >= p.P || n0 + ni >= p.N) continue;
        float sum = 0;
        for (int s = 0; s < k.q; ++s) sum += left[s][pi] * right[s][ni];
        p.chunk_states[(bh * p.P * p.N + (p0 + pi) * p.N + n0 + ni) * p.chunks + k.c] = sum;
      }
      __syncthreads();
    }
  if (threadIdx.x == 0) p.chunk_decay[bh * p.chunks + k.c] = expf(cs[k.q - 1]);
}

__global__ void __launch_bounds__(kThreads) ssd_state_output_kernel(SsdCudaParams p, const float* h0,
                                                                    const float* states) {
  __shared__ float cs[kQ], decay[kQ];
  __shared__ float c_tile[kQ][kTile + 1], h_tile[kTile][kTile + 1];
  const ChunkIndex k = chunk_index(p);
  cumulative_a(p, k, cs);
  for (int l = threadIdx.x; l < kQ; l += kThreads) decay[l] = l < k.q ? expf(cs[l]) : 0.0f;
  __syncthreads();
  const std::int64_t bh = k.b * p.heads + k.h, PN = p.P * p.N;
  // Entry (pi, ni) of the entering state.
  auto entering = [&](std::int64_t pi, std::int64_t ni) {
    const std::int64_t e = pi * p.N + ni;
    return k.c == 0 ? h0[bh * PN + e] : states[(bh * PN + e) * p.chunks + k.c - 1];
  };
  const float* Cc = p.C + ((k.b * p.L + k.t0) * p.groups + k.g) * p.N;
  for (std::int64_t p0 = 0; p0 < p.P; p0 += kTile) {
    constexpr int kPerThread = kQ * kTile / kThreads;
    float acc[kPerThread] = {};
    for (std::int64_t n0 = 0; n0 < p.N; n0 += kTile) {
      stage_rows(Cc, p.groups * p.N, k.q, p.N, n0, decay, c_tile);
      for (int i = threadIdx.x; i < kTile * kTile; i += kThreads) {
        const int pi = i / kTile, ni = i % kTile;
        h_tile[pi][ni] = p0 + pi < p.P && n0 + ni < p.N ? entering(p0 + pi, n0 + ni) : 0.0f;
      }
      __syncthreads();
      accumulate_row_products<kQ, kTile>(c_tile, h_tile, acc);
      __syncthreads();
    }
#pragma unroll
    for (int e = 0; e < kPerThread; ++e) {
      const int2 lj = held_entry<kTile>(e);
      const int l = lj.x, j = lj.y;
      if (l < k.q && p0 + j < p.P) p.Y[((k.b * p.L + k.t0 + l) * p.heads + k.h) * p.P + p0 + j] += acc[e];
    }
  }
}

std::string check_grid(const SsdCudaParams& p) {
  if (p.Q < 1 || p.Q > kQ) return "chunk length outside [1, " + std::to_string(kQ) + "]";
  if (p.batch * p.heads * p.chunks > std::int64_t(0x7fffffff)) return "too many chunks for one grid";
  return {};
}

}  // namespace

std::string launch_ssd_chunks(const SsdCudaParams& p) {
  if (std::string error = check_grid(p); !error.empty() || p.L == 0) return error;
  ssd_chunk_kernel<<<unsigned(p.batch * p.heads * p.chunks), kThreads>>>(p);
  return subq::detail::launch_status();
}

std::string launch_ssd_state_outputs(const SsdCudaParams& p, const float* h0, const float* states) {
  if (std::string error = check_grid(p); !error.empty() || p.L == 0) return error;
  ssd_state_output_kernel<<<unsigned(p.batch * p.heads * p.chunks), kThreads>>>(p, h0, states);
  return subq::detail::launch_status();
}

}  // namespace subq::ssm::detail
