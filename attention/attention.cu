// CUDA causal attention, attention/attention.cpp's tiled online softmax being its spec. One block per
// (query tile and key range, head, batch). The query tile stays in shared memory; key and value
// tiles of the block's range stream through it up to the tile's last visible key. Per key tile:
//   scores = scale * Q K^T (masked: key s seen by query t when s <= past + t, and with a window W
//            when s > past + t - W)
//   per row: m' = max(m, max scores), p = exp(scores - m'), sum = sum * exp(m - m') + sum p
//   acc = acc * exp(m - m') + p V
// and o = acc / sum at the end. Each thread holds a fixed share of the (query rows x d)
// accumulator in registers, so the (queries x keys) matrix never exists beyond one tile. When the
// keys are split into ranges (decoding: few queries, many keys), each block leaves (acc, m, sum)
// for its range and merge_key_splits_kernel combines them as the online softmax does.
#include <cuda_runtime.h>

#include <cmath>

#include "core/cuda_launch.cuh"
#include "core/math.hpp"
#include "attention/attention_cuda.hpp"

namespace subq::attention::detail {

namespace {

using subq::detail::launch_elementwise;

/// Tile sizes for head sizes up to kHeadDim: kQueryRows queries against kKeyRows keys at a time,
/// within 48 KiB of static shared memory. Accumulator element e = i * kThreads + thread is row
/// e / kHeadDim, column e % kHeadDim.
template <int kHeadDim_, int kQueryRows_, int kKeyRows_>
struct AttentionTile {
  static constexpr int kHeadDim = kHeadDim_, kQueryRows = kQueryRows_, kKeyRows = kKeyRows_, kThreads = 128;
  static constexpr int kAccumulators = kQueryRows * kHeadDim / kThreads;
  static_assert(kQueryRows * kHeadDim % kThreads == 0 && kQueryRows <= kThreads, "tile and block sizes must fit");
};

/// f(tile) with the tile shape for head size d.
template <class F>
auto with_tile(std::int64_t d, F f) {
  if (d <= 64) return f(AttentionTile<64, 32, 32>{});
  if (d <= 128) return f(AttentionTile<128, 32, 16>{});
  return f(AttentionTile<kMaxCudaHeadDim, 16, 8>{});
}

SUBQ_HOST_DEVICE std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

/// Keys per range when `keys` are cut into `splits` ranges of whole key tiles.
SUBQ_HOST_DEVICE std::int64_t keys_per_split(std::int64_t keys, std::int64_t splits, int key_rows) {
  return ceil_div(ceil_div(keys, key_rows), splits) * key_rows;
}

/// Where split s keeps its partial results: acc (splits, batch, length, heads, d), then (m, sum)
/// pairs (splits, batch, length, heads).
struct SplitLayout {
  std::int64_t rows, d;  // rows = batch * length * heads
  SUBQ_HOST_DEVICE std::int64_t acc(std::int64_t s, std::int64_t row) const { return (s * rows + row) * d; }
  SUBQ_HOST_DEVICE std::int64_t stats(std::int64_t splits, std::int64_t s, std::int64_t row) const {
    return splits * rows * d + (s * rows + row) * 2;
  }
};

template <class Tile>
__global__ void __launch_bounds__(Tile::kThreads) causal_attention_kernel(AttentionCudaParams p) {
  constexpr int kD = Tile::kHeadDim, kQ = Tile::kQueryRows, kK = Tile::kKeyRows, kThreads = Tile::kThreads;
  // One padding column keeps the score loop's reads of q and k rows on distinct banks.
  __shared__ float q_tile[kQ][kD + 1], k_tile[kK][kD + 1], v_tile[kK][kD], probs[kQ][kK + 1];
  __shared__ float row_max[kQ], row_sum[kQ], rescale[kQ];
  const int thread = threadIdx.x, d = int(p.head_dim);
  const std::int64_t L = p.length, H = p.heads, Hkv = p.kv_heads, past = p.keys - p.length, tiles = ceil_div(L, kQ);
  const std::int64_t t0 = std::int64_t(blockIdx.x % tiles) * kQ, split = blockIdx.x / tiles, h = blockIdx.y, b = blockIdx.z;
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
  // This block's keys: its range, from the tile's first visible key to its last.
  const std::int64_t per_split = keys_per_split(p.keys, p.key_splits, kK), range_begin = split * per_split;
  const std::int64_t range_end = range_begin + per_split, visible_end = past + t0 + rows;
  const std::int64_t visible_begin = p.window > 0 && past + t0 + 1 - p.window > 0 ? past + t0 + 1 - p.window : 0;
  const std::int64_t first_key = range_begin > visible_begin ? range_begin : visible_begin;
  const std::int64_t last_key = range_end < visible_end ? range_end : visible_end;
  for (std::int64_t s0 = first_key; s0 < last_key; s0 += kK) {
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
      const std::int64_t key = s0 + j, query = past + t0 + r;
      const bool visible = r < rows && j < cols && key <= query && (p.window == 0 || key > query - p.window);
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
  __syncthreads();  // row_max and row_sum are final (also when the range held no visible key)
  const SplitLayout layout{p.batch * L * H, d};
#pragma unroll
  for (int i = 0; i < Tile::kAccumulators; ++i) {
    const int e = i * kThreads + thread, r = e / kD, c = e % kD;
    if (r >= rows || c >= d) continue;
    const std::int64_t row = (b * L + t0 + r) * H + h;
    if (p.key_splits == 1)
      p.o[row * d + c] = acc[i] / row_sum[r];
    else
      p.workspace[layout.acc(split, row) + c] = acc[i];
  }
  if (p.key_splits > 1 && thread < rows) {
    const std::int64_t at = layout.stats(p.key_splits, split, (b * L + t0 + thread) * H + h);
    p.workspace[at] = row_max[thread], p.workspace[at + 1] = row_sum[thread];
  }
}

// o (batch, length, heads, d) from the ranges' partial results: each range's acc and sum scaled
// by exp(m_range - m) for the largest m, summed, divided. Ranges that saw no key (m = -inf) add
// nothing; every query sees its own key, so some range holds a visible key.
__global__ void merge_key_splits_kernel(AttentionCudaParams p) {
  const SplitLayout layout{p.batch * p.length * p.heads, p.head_dim};
  SUBQ_GRID_STRIDE(i, layout.rows * layout.d) {
    const std::int64_t row = i / layout.d, c = i % layout.d;
    float m = -INFINITY;
    for (std::int64_t s = 0; s < p.key_splits; ++s) m = fmaxf(m, p.workspace[layout.stats(p.key_splits, s, row)]);
    float total = 0.0f, value = 0.0f;
    for (std::int64_t s = 0; s < p.key_splits; ++s) {
      const float* stats = p.workspace + layout.stats(p.key_splits, s, row);
      if (stats[0] == -INFINITY) continue;
      const float w = expf(stats[0] - m);
      total += stats[1] * w;
      value += p.workspace[layout.acc(s, row) + c] * w;
    }
    p.o[i] = value / total;
  }
}

}  // namespace

std::int64_t attention_key_splits(const AttentionCudaParams& p) {
  return with_tile(p.head_dim, [&](auto tile) -> std::int64_t {
    using Tile = decltype(tile);
    constexpr std::int64_t kMinKeyTilesPerSplit = 4;  // a range long enough to pay for its merge
    const std::int64_t blocks = ceil_div(p.length, Tile::kQueryRows) * p.heads * p.batch;
    const std::int64_t wanted = 4 * std::int64_t(subq::detail::multiprocessors());  // a few blocks each
    const std::int64_t most = ceil_div(p.keys, Tile::kKeyRows) / kMinKeyTilesPerSplit;
    const std::int64_t splits = ceil_div(wanted, blocks);
    return splits < most ? splits : most > 1 ? most : 1;
  });
}

std::int64_t attention_workspace_floats(const AttentionCudaParams& p) {
  return p.key_splits == 1 ? 0 : p.key_splits * p.batch * p.length * p.heads * (p.head_dim + 2);
}

std::string launch_causal_attention(const AttentionCudaParams& p) {
  return with_tile(p.head_dim, [&](auto tile) {
    using Tile = decltype(tile);
    const dim3 grid(unsigned(ceil_div(p.length, Tile::kQueryRows) * p.key_splits), unsigned(p.heads), unsigned(p.batch));
    causal_attention_kernel<Tile><<<grid, Tile::kThreads>>>(p);
    std::string error = subq::detail::launch_status();
    if (error.empty() && p.key_splits > 1)
      error = launch_elementwise(merge_key_splits_kernel, p.batch * p.length * p.heads * p.head_dim, p);
    return error;
  });
}

}  // namespace subq::attention::detail
