#pragma once
// Internal: launchers of the dense layers' CUDA kernels (core/dense.cu), float32 (the bias and
// the scale also float64), contiguous rows, default stream. Each returns an error message, empty on success.
#include <cstdint>
#include <string>

namespace subq::detail {

/// y (rows, dim) = weight * v / sqrt(mean(v^2) + eps) per row, v = x, or x * silu(gate) with a gate.
std::string launch_rms_norm(const float* x, const float* gate, const float* weight, float* y, std::int64_t rows,
                            std::int64_t dim, float eps);
/// y = (x - mean) / sqrt(var + eps) * weight + bias over each of `groups` groups of `size`
/// consecutive features, rows of dim features (weight and bias (dim), bias may be null).
std::string launch_group_norm(const float* x, const float* weight, const float* bias, float* y, std::int64_t groups,
                              std::int64_t size, std::int64_t dim, float eps);
/// y = x's rows (rows = batch x length x heads, of `width` values) with their first 2 * half
/// values turned by rotary positions offset + t, t the row's step (the rest of y is left as it is).
std::string launch_rotary(const float* x, float* y, std::int64_t rows, std::int64_t length, std::int64_t heads,
                          std::int64_t half, std::int64_t width, std::int64_t offset, double base);
/// y (count, dim) = table[ids[k]]; the ids are already checked against the vocabulary.
std::string launch_embedding(const float* table, const std::int64_t* ids, float* y, std::int64_t count,
                             std::int64_t dim);
/// h[i] += update[i] for i < n.
std::string launch_add(float* h, const float* update, std::int64_t n);
/// y[i] = y[i] * factor for i < n, computed in float64 and rounded once.
std::string launch_scale(float* y, std::int64_t n, double factor);
std::string launch_scale(double* y, std::int64_t n, double factor);
/// y[r, c] += bias[c] over (rows, cols).
std::string launch_add_bias(float* y, const float* bias, std::int64_t rows, std::int64_t cols);
std::string launch_add_bias(double* y, const double* bias, std::int64_t rows, std::int64_t cols);

}  // namespace subq::detail
