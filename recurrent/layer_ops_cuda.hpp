#pragma once
// Internal: the CUDA launchers of the recurrent models' element-wise layer pieces
// (recurrent/layer_ops.cu), float32, contiguous, default stream; recurrent/layer_ops.cpp checks
// and allocates. Each returns an error message, empty on success.
#include <cstdint>
#include <string>

#include "recurrent/activation.hpp"

namespace subq::recurrent::detail {

/// x[i] = f(x[i]) for i < n.
std::string launch_activate(float* x, std::int64_t n, Activation f);
/// s (batch, length, features) = x shifted one step back in time, carried (batch, features)
/// first (zeros when null); minus x when `delta`.
std::string launch_token_shift(float* s, const float* x, const float* carried, std::int64_t batch, std::int64_t length,
                               std::int64_t features, bool delta);
/// a[i] *= b[i % b_count] for i < n.
std::string launch_multiply(float* a, const float* b, std::int64_t n, std::int64_t b_count);
/// y[i] = a[i] + b[i] * c[i % c_count] for i < n.
std::string launch_add_scaled(float* y, const float* a, const float* b, const float* c, std::int64_t n,
                              std::int64_t c_count);
/// y[i] = b[i] * m[i % features] + a[i] * (1 - m[i % features]) for i < n.
std::string launch_lerp(float* y, const float* a, const float* b, const float* m, std::int64_t n, std::int64_t features);
/// a[i] = silu(a[i]) * b[i] for i < n.
std::string launch_swish_product(float* a, const float* b, std::int64_t n);

}  // namespace subq::recurrent::detail
