#pragma once
// BASED's linear attention (Arora et al. 2024), as fla's based ops define it: the softmax's
// exponential replaced by its 2nd-order Taylor expansion, per batch b and head h,
//   A[t][s] = 1 + x + x^2 / 2 with x = scale q[t] . k[s], for s <= t (causal),
//   o[t] = sum_s A[t][s] v[s] / (sum_s A[t][s] + 1e-6)   (normalised; else the numerator alone).
// A[t][s] = phi(q[t]) . phi(k[s]) for the Taylor feature map
//   phi(x) = [1, sqrt(scale) x_i, scale x_i x_j / sqrt(2) for i, j]
// whose d_k^2 products are kept once per unordered pair (the off-diagonal ones times sqrt(2)):
// 1 + d_k + d_k (d_k + 1) / 2 features. So BASED is linear attention (linear_attention.hpp) over
// those features, linear in the length. BASED's sliding-window softmax part is the attention op's
// window (attention/attention.hpp).
#include "../core/tensor.hpp"

namespace subq::recurrent {

struct BasedOptions {
  double scale = 1;               // fla's layer passes d_k^-1/2
  bool normalize = true;          // divide by sum_s A[t][s] + 1e-6
  std::int64_t chunk_length = 0;  // linear attention's
};

/// phi(x) above for x (..., d_k): (..., 1 + d_k + d_k (d_k + 1) / 2), of x's dtype and on its
/// device (float32 or float64 on the CPU, float32 on CUDA).
Tensor taylor_features(const Tensor& x, double scale);

/// q, k: (batch, length, heads, d_k); v: (batch, length, heads, d_v); float32 or float64 on the
/// CPU, float32 on CUDA. Returns o (batch, length, heads, d_v).
Tensor based(const Tensor& q, const Tensor& k, const Tensor& v, const BasedOptions& options = {});

/// The quadratic form (every A[t][s] summed in float64 on the CPU; returned there), the specification.
Tensor based_reference(const Tensor& q, const Tensor& k, const Tensor& v, const BasedOptions& options = {});

}  // namespace subq::recurrent
