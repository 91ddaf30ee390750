#include "attention/attention.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "attention/attention_cuda.hpp"
#include "core/check.hpp"
#include "core/eigen_views.hpp"
#include "core/thread_pool.hpp"
#include "core/vector_math.hpp"

namespace subq::attention {

namespace {

// Tiles of 128 queries x 128 keys (a 64 KiB score block): on the 2-core CPU, 16 heads of 128, L 1K,
// 32 x 64 ran at 30K tok/s, 64 x 128 at 36K and 128 x 128 at 39K (Eigen's GEMM gains on larger
// blocks more than the causal diagonal's masked half costs).
constexpr std::int64_t kQueryTile = 128, kKeyTile = 128;

using Matrix = RowMatrix<float>;
using Rows = StridedRows<float>;

struct Shapes {
  std::int64_t B, L, H, d, S, Hkv;
};

Shapes validate(const Tensor& q, const Tensor& k, const Tensor& v, std::int64_t window) {
  constexpr const char* op = "causal_attention";
  SUBQ_CHECK(window >= 0, "{}: window: expected W >= 1 keys, or 0 for all, found {}", op, window);
  SUBQ_CHECK(q.defined() && q.dim() == 4, "{}: q: expected (batch, length, heads, d), found {}", op,
             q.defined() ? to_string(q.shape()) : "nothing");
  SUBQ_CHECK(k.defined() && k.dim() == 4 && k.size(0) == q.size(0) && k.size(3) == q.size(3) && k.size(1) >= q.size(1),
             "{}: k: expected ({}, keys >= {}, kv_heads, {}), found {}", op, q.size(0), q.size(1), q.size(3),
             k.defined() ? to_string(k.shape()) : "nothing");
  check_shape(op, "v", v, k.shape());
  SUBQ_CHECK(k.size(2) >= 1 && q.size(2) % k.size(2) == 0, "{}: {} kv heads do not divide {} heads", op, k.size(2), q.size(2));
  check_same_device(op, q.device(), {{"k", &k}, {"v", &v}});
  for (const auto& [name, t] : NamedTensors{{"q", &q}, {"k", &k}, {"v", &v}})
    SUBQ_CHECK(t->dtype() == DType::F32, "{}: {}: expected float32, found {}", op, name, dtype_name(t->dtype()));
  return {q.size(0), q.size(1), q.size(2), q.size(3), k.size(1), k.size(2)};
}

// t (batch, time, heads, d) as the tiled loops read it: dense within each batch row (as a slice
// of a KV cache's buffer is), else a contiguous copy.
Tensor dense_rows(const Tensor& t) {
  const bool dense = t.stride(3) == 1 && t.stride(2) == t.size(3) && t.stride(1) == t.size(2) * t.size(3);
  return dense ? t : t.contiguous();
}

/// The first key query `position` sees (0 without a window).
std::int64_t first_visible(std::int64_t position, std::int64_t window) {
  return window > 0 ? std::max<std::int64_t>(0, position + 1 - window) : 0;
}

inline Tensor causal_attention_cuda(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, double scale,
                                    std::int64_t window, const Shapes& s) {
  SUBQ_CHECK(s.d <= cuda_max_head_size(), "causal_attention on {}: head size {} is above the CUDA kernel's {}",
             to_string(q_in.device()), s.d, cuda_max_head_size());
  const Tensor q = dense_rows(q_in);
  Tensor k = dense_rows(k_in), v = dense_rows(v_in);
  if (k.stride(0) != v.stride(0)) k = k.contiguous(), v = v.contiguous();  // the kernel takes one stride for both
  Tensor o = Tensor::empty({s.B, s.L, s.H, s.d}, DType::F32, q.device());
  if (o.numel() == 0) return o;
  detail::AttentionCudaParams p{
      q.data<float>(), k.data<float>(), v.data<float>(), o.data<float>(), s.B,   s.L, s.H, s.d, s.S,
      s.Hkv,           q.stride(0),     k.stride(0),     float(scale),    window};
  p.key_splits = detail::attention_key_splits(p);
  const Tensor workspace = Tensor::empty({detail::attention_workspace_floats(p)}, DType::F32, q.device());
  p.workspace = workspace.data<float>();
  check_launch("causal_attention", q.device(), detail::launch_causal_attention(p));
  return o;
}

}  // namespace

std::int64_t cuda_max_head_size() { return detail::kMaxCudaHeadDim; }

Tensor causal_attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, double scale, std::int64_t window) {
  const Shapes s = validate(q_in, k_in, v_in, window);
  if (q_in.device().is_cuda())
    return on_cuda("causal_attention", q_in.device(),
                   [&] { return causal_attention_cuda(q_in, k_in, v_in, scale, window, s); });
  const std::int64_t B = s.B, L = s.L, H = s.H, d = s.d, S = s.S, Hkv = s.Hkv;
  // Read in place where dense within each batch row: a KV cache's buffer is not copied per token.
  const Tensor q = dense_rows(q_in), k = dense_rows(k_in), v = dense_rows(v_in);
  Tensor o = Tensor::empty({B, L, H, d}, DType::F32);
  const std::int64_t past = S - L, tiles = (L + kQueryTile - 1) / kQueryTile, group = H / Hkv;
  ThreadPool::global().parallel_for(B * H * tiles, [&](std::int64_t begin, std::int64_t end) {
    Matrix scores, acc;
    for (std::int64_t task = begin; task < end; ++task) {
      const std::int64_t b = task / (H * tiles), h = task / tiles % H, t0 = task % tiles * kQueryTile;
      const std::int64_t rows = std::min(kQueryTile, L - t0), g = h / group;
      const Rows Q(q.data<float>() + b * q.stride(0) + (t0 * H + h) * d, rows, d, Eigen::OuterStride<>(H * d));
      acc.setZero(rows, d);
      std::vector<float> running_max(std::size_t(rows), -std::numeric_limits<float>::infinity()), sum(std::size_t(rows), 0.0f);
      // Keys [first_key, last_key) can be seen by this tile.
      const std::int64_t first_key = first_visible(past + t0, window), last_key = past + t0 + rows;
      for (std::int64_t s0 = first_key; s0 < last_key; s0 += kKeyTile) {
        const std::int64_t cols = std::min(kKeyTile, last_key - s0);
        const Rows K(k.data<float>() + b * k.stride(0) + (s0 * Hkv + g) * d, cols, d, Eigen::OuterStride<>(Hkv * d));
        const Rows V(v.data<float>() + b * v.stride(0) + (s0 * Hkv + g) * d, cols, d, Eigen::OuterStride<>(Hkv * d));
        scores.noalias() = (Q * K.transpose()) * float(scale);
        for (std::int64_t r = 0; r < rows; ++r) {
          // The causal mask, and the window's: columns [begin, end) of this tile are visible.
          const std::int64_t begin = std::clamp<std::int64_t>(first_visible(past + t0 + r, window) - s0, 0, cols);
          const std::int64_t end = std::clamp<std::int64_t>(past + t0 + r + 1 - s0, 0, cols), visible = end - begin;
          if (visible <= 0) {
            scores.row(r).setZero();
            continue;
          }
          const float tile_max = scores.row(r).segment(begin, visible).maxCoeff();
          const float new_max = std::max(running_max[r], tile_max);
          const float rescale = std::exp(running_max[r] - new_max);
          scores.row(r).segment(begin, visible).array() -= new_max;
          exp_span(scores.row(r).data() + begin, visible);
          scores.row(r).head(begin).setZero();
          scores.row(r).tail(cols - end).setZero();
          sum[r] = sum[r] * rescale + scores.row(r).sum();
          acc.row(r) *= rescale;
          running_max[r] = new_max;
        }
        acc.noalias() += scores * V;
      }
      Eigen::Map<Matrix, 0, Eigen::OuterStride<>> O(o.data<float>() + ((b * L + t0) * H + h) * d, rows, d,
                                                    Eigen::OuterStride<>(H * d));
      for (std::int64_t r = 0; r < rows; ++r) O.row(r) = acc.row(r) / sum[r];
    }
  });
  return o;
}

Tensor causal_attention_reference(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, double scale,
                                  std::int64_t window) {
  const Shapes s = validate(q_in, k_in, v_in, window);
  SUBQ_CHECK(q_in.device().is_cpu(), "causal_attention_reference: expected tensors on the CPU, found {}",
             to_string(q_in.device()));
  const std::int64_t B = s.B, L = s.L, H = s.H, d = s.d, S = s.S, Hkv = s.Hkv;
  const Tensor q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
  Tensor o = Tensor::zeros({B, L, H, d}, DType::F32);
  const std::int64_t past = S - L, group = H / Hkv;
  std::vector<double> p(static_cast<std::size_t>(S));
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t t = 0; t < L; ++t) {
        const float* qt = q.data<float>() + ((b * L + t) * H + h) * d;
        double max = -INFINITY, total = 0;
        const std::int64_t first = first_visible(past + t, window);
        for (std::int64_t s = first; s <= past + t; ++s) {
          const float* ks = k.data<float>() + ((b * S + s) * Hkv + h / group) * d;
          double dot = 0;
          for (std::int64_t i = 0; i < d; ++i) dot += double(qt[i]) * ks[i];
          p[s] = dot * scale;
          max = std::max(max, p[s]);
        }
        for (std::int64_t s = first; s <= past + t; ++s) total += p[s] = std::exp(p[s] - max);
        float* ot = o.data<float>() + ((b * L + t) * H + h) * d;
        for (std::int64_t s = first; s <= past + t; ++s) {
          const float* vs = v.data<float>() + ((b * S + s) * Hkv + h / group) * d;
          for (std::int64_t i = 0; i < d; ++i) ot[i] += float(p[s] / total) * vs[i];
        }
      }
  return o;
}

}  // namespace subq::attention
