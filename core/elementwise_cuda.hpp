#pragma once
// Internal: the CUDA launchers of core/elementwise.hpp (core/elementwise.cu), float32, contiguous,
// default stream; core/elementwise.cpp checks, allocates and holds the CPU loops that are their
// spec. Each returns an error message, empty on success.
#include <cstdint>
#include <string>

#include "core/activation.hpp"

namespace subq::detail {

/// x[i] = f(x[i]) for i < n.
std::string launch_activate(float* x, std::int64_t n, Activation f);
/// a[i] *= b[i % b_count] for i < n.
std::string launch_multiply(float* a, const float* b, std::int64_t n, std::int64_t b_count);
/// y[i] = a[i] + b[i] * c[i % c_count] for i < n.
std::string launch_add_scaled(float* y, const float* a, const float* b, const float* c, std::int64_t n,
                              std::int64_t c_count);
/// y[i] = b[i] * m[i % features] + a[i] * (1 - m[i % features]) for i < n.
std::string launch_lerp(float* y, const float* a, const float* b, const float* m, std::int64_t n, std::int64_t features);
/// a[i] = silu(a[i]) * b[i] for i < n.
std::string launch_swish_product(float* a, const float* b, std::int64_t n);

}  // namespace subq::detail
