#pragma once
// Causal multi-head attention with grouped-query heads, tiled with an online softmax (as
// FlashAttention does) so that the (queries x keys) score matrix is never materialised:
//   o[t] = sum_{s <= past + t} softmax_s(scale * q[t] . k[s]) v[s]
// where the keys are the cache's `past` positions followed by the queries' own. With a sliding
// window of W keys (Mistral, Griffin's local attention, BASED), query t sees only the W keys
// past + t - W < s <= past + t, itself included.
#include "../core/tensor.hpp"

namespace subq::attention {

/// q: (batch, length, heads, d); k, v: (batch, past + length, kv_heads, d), head h reading kv
/// head h / (heads / kv_heads). float32, contiguous or not, all on the CPU or all on one GPU (there
/// d <= 256; k and v are read in place when dense within each batch row, as a KV cache's buffer
/// slice is). window: W >= 1, or 0 for every earlier key. Returns (batch, length, heads, d) on their
/// device.
Tensor causal_attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale, std::int64_t window = 0);

/// The largest head size d causal_attention takes on a GPU (its kernel's tiles are sized for it);
/// the CPU takes any.
std::int64_t cuda_max_head_size();

/// The plain definition (scores, mask, softmax, weighted sum), the specification the tiled form
/// is tested against. Same arguments, on the CPU.
Tensor causal_attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, double scale,
                                  std::int64_t window = 0);

}  // namespace subq::attention
