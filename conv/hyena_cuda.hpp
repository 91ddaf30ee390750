#pragma once
// Internal: the CUDA launchers of the Hyena operator's element-wise steps (conv/hyena.cu), in
// plain types; conv/hyena.cpp holds their CPU loops (the spec) and dispatches. Contiguous
// operands; each returns an error message, empty on success.
#include <cstdint>
#include <string>

namespace subq::conv::detail {

/// The filter MLP's activation, in place: h[r, c] = sin(freq[c] h[r, c]) over (rows, n).
std::string launch_filter_sine(double* h, const double* freq, std::int64_t rows, std::int64_t n);
/// The filters' exponential decay, in place: h[l, c] *= exp(-t[l] |deltas[c]|) over (L, n).
std::string launch_filter_modulation(double* h, const double* t, const double* deltas, std::int64_t L, std::int64_t n);
/// v[i] *= x[i] for i < count.
std::string launch_gate(float* v, const float* x, std::int64_t count);
std::string launch_gate(double* v, const double* x, std::int64_t count);
/// v[b, d, l] = y[b, d, l] + bias[d] v[b, d, l] over (batch, D, L): the long convolution plus
/// its skip term.
std::string launch_conv_skip(float* v, const float* y, const double* bias, std::int64_t count, std::int64_t D,
                             std::int64_t L);
std::string launch_conv_skip(double* v, const double* y, const double* bias, std::int64_t count, std::int64_t D,
                             std::int64_t L);

}  // namespace subq::conv::detail
