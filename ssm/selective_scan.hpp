#pragma once
// Mamba's selective scan (S6), as state-spaces/mamba's selective_scan_ref defines it. For every
// batch b, channel d and state n, along time t:
//   dt[t]   = softplus(delta[t] + delta_bias[d])          (bias and softplus optional)
//   x[t, n] = exp(dt[t] * A[d, n]) * x[t-1, n] + dt[t] * B[n, t] * u[t]
//   y[t]    = sum_n C[n, t] * x[t, n]                      (2 * Re(...) when A is complex)
//   out[t]  = (y[t] + D[d] * u[t]) * silu(z[t])           (D and z optional)
// Each state's recurrence is the scan core's affine operator with a = exp(dt * A), b = dt * B * u.
#include "../core/tensor.hpp"
#include "../core/thread_pool.hpp"

namespace subq::ssm {

struct SelectiveScanOptions {
  Tensor D;                     // (dim): skip connection, out += D * u
  Tensor z;                     // (batch, dim, length): gate, out *= silu(z)
  Tensor delta_bias;            // (dim): added to delta before the softplus
  bool delta_softplus = false;  // dt = softplus(delta + delta_bias)
  Tensor initial_state;         // (batch, dim, N): the state before step 0; zeros when undefined
  ThreadPool* pool = nullptr;   // CPU threads; nullptr uses ThreadPool::global()
};

struct SelectiveScanResult {
  Tensor out;         // (batch, dim, length), u's dtype
  Tensor final_state;  // (batch, dim, N), float32 (float64 for float64 inputs), complex when A is
};

/// u, delta: (batch, dim, length), float32 or float64 (bfloat16/float16 are widened to float32);
/// A: (dim, N), real or complex (complex64/complex128);
/// B, C: (batch, N, length) shared by all channels, (batch, groups, N, length) with channel d in
///   group d / (dim / groups), or (dim, N) time-invariant; complex when A is.
/// Every input may be a strided view (e.g. a transposed (batch, length, dim) projection).
SelectiveScanResult selective_scan(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B,
                                   const Tensor& C, const SelectiveScanOptions& options = {});

/// One decoding step of the selective scan, as mamba's selective_state_update_ref defines it:
/// state (batch, heads, dim, N), updated in place; x, dt, z (batch, heads, dim); A (heads, dim, N);
/// B, C (batch, groups, N) with head h in group h / (heads / groups); D, delta_bias (heads, dim).
/// options.initial_state is not used (the state is). Returns out (batch, heads, dim).
Tensor selective_state_update(const Tensor& state, const Tensor& x, const Tensor& dt, const Tensor& A,
                              const Tensor& B, const Tensor& C, const SelectiveScanOptions& options = {});

}  // namespace subq::ssm
