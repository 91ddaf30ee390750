// CUDA causal attention, hybrid/attention.cpp's tiled online softmax being its spec. One block per
// (query tile, head, batch). The query tile stays in shared memory; key and value tiles stream
// through it up to the tile's last visible key. Per key tile:
//   scores = scale * Q K^T (masked: key s seen by query t when s <= past + t)
//   per row: m' = max(m, max scores), p = exp(scores - m'), sum = sum * exp(m - m') + sum p
//   acc = acc * exp(m - m') + p V
// and o = acc / sum at the end. Each thread holds a fixed share of the (query rows x d)
// accumulator in registers, so the (queries x keys) matrix never exists beyond one tile.
#include <cuda_runtime.h>

#include <cmath>

#include "core/cuda_launch.cuh"
#include "hybrid/attention_cuda.hpp"

namespace subq::hybrid::detail {

namespace {

/// Tile sizes for head sizes up to kHeadDim: kQueryRows queries against kKeyRows keys at a time,
/// within 48 KiB of static shared memory. Accumulator element e = i * kThreads + thread is row
/// e / kHeadDim, column e % kHeadDim.
template <int kHeadDim_, int kQueryRows_, int kKeyRows_>
struct AttentionTile {
  static constexpr int kHeadDim = kHeadDim_, kQueryRows = kQueryRows_, kKeyRows = kKeyRows_, kThreads = 128;
  static constexpr int kAccumulators = kQueryRows * kHeadDim / kThreads;
  static_assert(kQueryRows * kHeadDim % kThreads == 0 && kQueryRows <= kThreads, "tile and block sizes must fit");
};

template <class Tile>
__global__ void __launch_bounds__(Tile::kThreads) causal_attention_kernel(AttentionCudaParams p) {
  constexpr int kD = Tile::kHeadDim, kQ = Tile::kQueryRows, kK = Tile::kKeyRows, kThreads = Tile::kThreads;
  // One padding column keeps the score loop's reads of q and k rows on distinct banks.
  __shared__ float q_tile[kQ][kD + 1], k_tile[kK][kD + 1], v_tile[kK][kD], probs[kQ][kK + 1];
  __shared__ float row_max[kQ], row_sum[kQ], rescale[kQ];
  const int thread = threadIdx.x, d = int(p.head_dim);
  const std::int64_t t0 = std::int64_t(blockIdx.x) * kQ, h = blockIdx.y, b = blockIdx.z;
  const std::int64_t L = p.length, H = p.heads, Hkv = p.kv_heads, past = p.keys - p.length;
  const std::int64_t g = h / (H / Hkv);
  const int rows = int(L - t0 < kQ ? L - t0 : kQ);
  const float* q = p.q + b * p.q_batch_stride + (t0 * H + h) * d;
  for (int e = thread; e < kQ * kD; e += kThreads) {
    const int r = e / kD, c = e % kD;
    q_tile[r][c] = r < rows && c < d ? q[r * H * d + c] : 0.0f;
  }
  if (thread < kQ) row_max[thread] = -INFINITY, row_sum[thread] = 0.0f;
  float acc[Tile::kAccumulators];
#pragma unroll
  for (int i = 0; i < Tile::kAccumulators; ++i) acc[i] = 0.0f;
  const std::int64_t last_key = past + t0 + rows;  // keys [0, last_key) can be seen by this tile
  for (std::int64_t s0 = 0; s0 < last_key; s0 += kK) {
    const int cols = int(last_key - s0 < kK ? last_key - s0 : kK);
    __syncthreads();  // the previous tile's keys, values and probabilities are consumed
    const std::int64_t kv_row = b * p.kv_batch_stride + (s0 * Hkv + g) * d;
    for (int e = thread; e < kK * kD; e += kThreads) {
      const int j = e / kD, c = e % kD;
      const bool inside = j < cols && c < d;
      k_tile[j][c] = inside ? p.k[kv_row + j * Hkv * d + c] : 0.0f;
      v_tile[j][c] = inside ? p.v[kv_row + j * Hkv * d + c] : 0.0f;
    }
    __syncthreads();
    for (int e = thread; e < kQ * kK; e += kThreads) {
      const int r = e / kK, j = e % kK;
      float dot = 0.0f;
      for (int c = 0; c < d; ++c) dot += q_tile[r][c] * k_tile[j][c];
      const bool visible = r < rows && j < cols && s0 + j <= past + t0 + r;
      probs[r][j] = visible ? dot * p.scale : -INFINITY;
    }
    __syncthreads();
    if (thread < kQ) {
      const int r = thread;
      float tile_max = -INFINITY;
      for (int j = 0; j < kK; ++j) tile_max = fmaxf(tile_max, probs[r][j]);
      if (tile_max == -INFINITY) {  // no key of this tile is visible to the row (or no row)
        rescale[r] = 1.0f;
        for (int j = 0; j < kK; ++j) probs[r][j] = 0.0f;
      } else {
        const float new_max = fmaxf(row_max[r], tile_max);
        float sum = 0.0f;
        for (int j = 0; j < kK; ++j) sum += probs[r][j] = expf(probs[r][j] - new_max);
        rescale[r] = expf(row_max[r] - new_max);
        row_sum[r] = row_sum[r] * rescale[r] + sum;
        row_max[r] = new_max;
      }
    }
    __syncthreads();
#pragma unroll
    for (int i = 0; i < Tile::kAccumulators; ++i) {
      const int e = i * kThreads + thread, r = e / kD, c = e % kD;
      float a = acc[i] * rescale[r];
      for (int j = 0; j < cols; ++j) a += probs[r][j] * v_tile[j][c];
      acc[i] = a;
    }
  }
  float* o = p.o + ((b * L + t0) * H + h) * d;
#pragma unroll
  for (int i = 0; i < Tile::kAccumulators; ++i) {
    const int e = i * kThreads + thread, r = e / kD, c = e % kD;
    if (r < rows && c < d) o[r * H * d + c] = acc[i] / row_sum[r];
  }
}

template <class Tile>
std::string launch_tiles(const AttentionCudaParams& p) {
  const dim3 grid(unsigned((p.length + Tile::kQueryRows - 1) / Tile::kQueryRows), unsigned(p.heads), unsigned(p.batch));
  causal_attention_kernel<Tile><<<grid, Tile::kThreads>>>(p);
  return subq::detail::launch_status();
}

}  // namespace

std::string launch_causal_attention(const AttentionCudaParams& p) {
  if (p.head_dim <= 64) return launch_tiles<AttentionTile<64, 32, 32>>(p);
  if (p.head_dim <= 128) return launch_tiles<AttentionTile<128, 32, 16>>(p);
  return launch_tiles<AttentionTile<kMaxCudaHeadDim, 16, 8>>(p);
}

}  // namespace subq::hybrid::detail
