#include "hybrid/moe.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/check.hpp"
#include "core/dense.hpp"
#include "core/math.hpp"

namespace subq::hybrid {

Tensor swiglu(const Tensor& x, const SwiGlu& mlp) {
  Tensor gate = linear(x, mlp.gate);
  const Tensor up = linear(x, mlp.up);
  float* g = gate.data<float>();
  for (std::int64_t i = 0; i < gate.numel(); ++i) g[i] = silu(g[i]) * up.data<float>()[i];
  return linear(gate, mlp.down);
}

Tensor mixture_of_experts(const Tensor& x, const Tensor& router, const std::vector<SwiGlu>& experts, int top_k) {
  const std::int64_t E = std::int64_t(experts.size()), H = x.size(-1), T = x.numel() / std::max<std::int64_t>(H, 1);
  SUBQ_CHECK(E >= 1 && top_k >= 1 && top_k <= E, "mixture_of_experts: top_k {} of {} experts", top_k, E);
  check_shape("mixture_of_experts", "router", router, {E, H});
  const Tensor tokens = x.contiguous().view({T, H});
  const Tensor logits = linear(tokens, router);  // (T, E)
  // Per expert: the tokens routed to it and their weights.
  std::vector<std::vector<std::int64_t>> routed(static_cast<std::size_t>(E));
  std::vector<std::vector<float>> weights(static_cast<std::size_t>(E));
  std::vector<double> p(static_cast<std::size_t>(E));
  std::vector<std::int64_t> order(static_cast<std::size_t>(E));
  for (std::int64_t t = 0; t < T; ++t) {
    const float* l = logits.data<float>() + t * E;
    const double max = *std::max_element(l, l + E);
    double total = 0;
    for (std::int64_t e = 0; e < E; ++e) total += p[e] = std::exp(double(l[e]) - max);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return p[a] > p[b]; });
    for (int j = 0; j < top_k; ++j) {
      routed[order[j]].push_back(t);
      weights[order[j]].push_back(float(p[order[j]] / total));
    }
  }
  Tensor out = Tensor::zeros({T, H}, DType::F32);
  for (std::int64_t e = 0; e < E; ++e) {
    const std::vector<std::int64_t>& rows = routed[std::size_t(e)];
    if (rows.empty()) continue;
    Tensor gathered = Tensor::empty({std::int64_t(rows.size()), H}, DType::F32);
    for (std::size_t r = 0; r < rows.size(); ++r)
      std::copy_n(tokens.data<float>() + rows[r] * H, H, gathered.data<float>() + std::int64_t(r) * H);
    const Tensor y = swiglu(gathered, experts[std::size_t(e)]);
    for (std::size_t r = 0; r < rows.size(); ++r)
      for (std::int64_t i = 0; i < H; ++i)
        out.data<float>()[rows[r] * H + i] += weights[std::size_t(e)][r] * y.data<float>()[std::int64_t(r) * H + i];
  }
  return out.view(x.shape());
}

}  // namespace subq::hybrid
