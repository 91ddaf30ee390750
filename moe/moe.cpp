#include "moe/moe.hpp"

#include <algorithm>

#include "core/check.hpp"
#include "core/dense.hpp"
#include "moe/moe_cuda.hpp"
#include "moe/moe_routing.hpp"

namespace subq::moe {

namespace {

constexpr const char* kOp = "mixture_of_experts";

// Each token's top_k experts in expert order and their weights: (T, top_k) int32 and float32 on
// the logits' device. logits (T, E).
struct Routing {
  Tensor experts, weights;
};

Routing route(const Tensor& logits, int top_k) {
  const std::int64_t T = logits.size(0);
  const int E = int(logits.size(1));
  const Device device = logits.device();
  Routing r{Tensor::empty({T, top_k}, DType::I32, device), Tensor::empty({T, top_k}, DType::F32, device)};
  const float* l = logits.data<float>();
  std::int32_t* experts = r.experts.data<std::int32_t>();
  float* weights = r.weights.data<float>();
  if (device.is_cuda()) {
    launch_on_cuda(kOp, device, [&] { return detail::launch_route_tokens(l, T, E, top_k, experts, weights); });
    return r;
  }
  for (std::int64_t t = 0; t < T; ++t) detail::route_token(l + t * E, E, top_k, experts + t * top_k, weights + t * top_k);
  return r;
}

// The tokens grouped by expert, so that each expert runs once on all of its tokens: grouped row
// r holds token row_token[r], expert e's rows are [offsets[e], offsets[e + 1]), and token t's
// j-th choice lies at row choice_row[t top_k + j]. experts (T, top_k) int32 on the CPU.
struct Grouping {
  std::vector<std::int64_t> row_token, choice_row, offsets;
};

Grouping group_by_expert(const Tensor& experts, std::int64_t E) {
  const std::int64_t choices = experts.numel(), top_k = experts.size(1);
  const std::int32_t* chosen = experts.data<std::int32_t>();
  Grouping g{std::vector<std::int64_t>(std::size_t(choices)), std::vector<std::int64_t>(std::size_t(choices)),
             std::vector<std::int64_t>(std::size_t(E + 1), 0)};
  for (std::int64_t i = 0; i < choices; ++i) ++g.offsets[std::size_t(chosen[i] + 1)];
  for (std::int64_t e = 0; e < E; ++e) g.offsets[std::size_t(e + 1)] += g.offsets[std::size_t(e)];
  std::vector<std::int64_t> next(g.offsets.begin(), g.offsets.end() - 1);
  for (std::int64_t i = 0; i < choices; ++i) {
    const std::int64_t row = next[std::size_t(chosen[i])]++;
    g.row_token[std::size_t(row)] = i / top_k;
    g.choice_row[std::size_t(i)] = row;
  }
  return g;
}

// out (T, H): each token's experts' outputs y (T top_k, H) summed with their weights (T, top_k);
// rows (T, top_k) int64 on y's device: where each choice's output lies.
Tensor combine(const Tensor& y, const Tensor& rows, const Tensor& weights) {
  const std::int64_t T = weights.size(0), H = y.size(1);
  const int top_k = int(weights.size(1));
  Tensor out = Tensor::empty({T, H}, DType::F32, y.device());
  const std::int64_t* r = rows.data<std::int64_t>();
  const float* w = weights.data<float>();
  if (y.device().is_cuda()) {
    launch_on_cuda(kOp, y.device(), [&] {
      return detail::launch_combine_experts(out.data<float>(), y.data<float>(), r, w, T, top_k, H);
    });
    return out;
  }
  float* o = out.data<float>();
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t c = 0; c < H; ++c)
      o[t * H + c] = detail::combined_output(y.data<float>(), r + t * top_k, w + t * top_k, top_k, H, c);
  return out;
}

}  // namespace

Tensor mixture_of_experts(const Tensor& x, const Tensor& router, const std::vector<SwiGlu>& experts, int top_k) {
  const std::int64_t E = std::int64_t(experts.size()), H = x.size(-1), T = x.numel() / std::max<std::int64_t>(H, 1);
  SUBQ_CHECK(E >= 1 && top_k >= 1 && top_k <= E, "{}: top_k {} of {} experts", kOp, top_k, E);
  check_shape(kOp, "router", router, {E, H});
  check_same_device(kOp, x.device(), {{"router", &router}});
  const Tensor tokens = x.contiguous().view({T, H});
  const Routing routing = route(linear(tokens, router), top_k);
  const Grouping g = group_by_expert(routing.experts.to(Device::cpu()), E);
  const Tensor grouped = embedding(tokens, Tensor::from_vector(g.row_token, {T * top_k}));  // (T top_k, H)
  Tensor y = Tensor::empty(grouped.shape(), DType::F32, x.device());
  for (std::int64_t e = 0; e < E; ++e) {
    const std::int64_t begin = g.offsets[std::size_t(e)], end = g.offsets[std::size_t(e + 1)];
    if (begin < end) y.slice(0, begin, end).copy_from(swiglu(grouped.slice(0, begin, end), experts[std::size_t(e)]));
  }
  const Tensor rows = Tensor::from_vector(g.choice_row, {T, top_k}).to(x.device());
  return combine(y, rows, routing.weights).view(x.shape());
}

}  // namespace subq::moe
