#pragma once
// Internal: the CUDA launcher of causal attention (attention/attention.cu); attention/attention.cpp
// validates and allocates, and its tiled CPU loop is the spec.
#include <cstdint>
#include <string>

namespace subq::attention::detail {

/// q (batch, length, heads, d) and o (its shape), k and v (batch, keys, kv_heads, d), float32 on
/// one GPU. Each is dense within a batch row; batch rows lie *_batch_stride elements apart, so a
/// KV cache's buffer (room for more keys than `keys`) is read where it is. k and v share a stride.
/// With key_splits > 1 the keys are cut into that many ranges, each block giving a partial result
/// for one range into workspace (attention_workspace_floats), merged afterwards: how decoding
/// (a few query rows, many keys) fills the GPU.
struct AttentionCudaParams {
  const float *q, *k, *v;
  float* o;
  std::int64_t batch, length, heads, head_dim, keys, kv_heads;
  std::int64_t q_batch_stride, kv_batch_stride;
  float scale;
  std::int64_t window = 0;  // query t sees keys past + t - window < s <= past + t; 0: every s <= past + t
  std::int64_t key_splits = 1;
  float* workspace = nullptr;
};

/// The largest head size d the CUDA kernel takes (its tiles are sized for d <= 64, 128, 256).
constexpr std::int64_t kMaxCudaHeadDim = 256;

/// The key ranges that give enough blocks to fill the GPU (1 where the query tiles do already).
std::int64_t attention_key_splits(const AttentionCudaParams& p);
/// The workspace floats of p.key_splits partial results (0 for one).
std::int64_t attention_workspace_floats(const AttentionCudaParams& p);

/// Error message, empty on success.
std::string launch_causal_attention(const AttentionCudaParams& p);

}  // namespace subq::attention::detail
