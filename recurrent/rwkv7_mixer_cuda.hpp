#pragma once
// Internal: the CUDA launchers of RWKV-7's time-mix pieces (recurrent/rwkv7_mixer.cu), float32,
// contiguous, default stream; recurrent/rwkv7_mixer.cpp holds their CPU loops and checks. Each
// returns an error message, empty on success.
#include <cstdint>
#include <string>

namespace subq::recurrent::detail {

/// Each of the n / d groups of d values divided by max(its L2 norm, 1e-12).
std::string launch_normalize_groups(float* x, std::int64_t n, std::int64_t d);
/// v[i] += (target[i] - v[i]) * weight[i] for i < n.
std::string launch_lerp_toward(float* v, const float* target, const float* weight, std::int64_t n);
/// k[i] *= 1 + (a[i] - 1) * k_a[i % hidden] for i < n.
std::string launch_key_update(float* k, const float* a, const float* k_a, std::int64_t n, std::int64_t hidden);
/// Per row (batch, step, head): o = (o + (sum_j r k r_k) v) * g over the row's d_v values; r, k
/// rows of d_k, r_k (heads, d_k).
std::string launch_bonus_and_gate(float* o, const float* r, const float* k, const float* v, const float* g,
                                  const float* r_k, std::int64_t rows, std::int64_t heads, std::int64_t dk,
                                  std::int64_t dv);

}  // namespace subq::recurrent::detail
