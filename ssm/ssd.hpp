#pragma once
// Mamba-2's state-space duality (SSD), as state-spaces/mamba's ssd_minimal_discrete defines it.
// Per batch b and head h, with a state of P x N:
//   state[t] = exp(A[t]) * state[t-1] + X[t] B[t]^T,   Y[t] = state[t] C[t]
// computed in chunks of Q steps: within a chunk as masked matrix products (the "attention"
// form, Y = (C B^T o decay) X), across chunks by passing each chunk's P x N state through the
// scan core's linear recurrence. Very short inputs (decoding) step the recurrence instead.
#include <cstdint>

#include "../core/tensor.hpp"
#include "../core/thread_pool.hpp"

namespace subq::ssm {

struct SsdOptions {
  /// Steps per chunk; results do not depend on it beyond rounding. 0 picks 128 on the CPU
  /// (RetNet-sized states, d_v x d_k = 512 x 256 per head, ran 1.4x faster than with 64 on the
  /// 2-core CPU) and 64 on CUDA, whose kernels take chunks of at most 64 (longer ones run as 64).
  std::int64_t chunk_length = 0;
  Tensor initial_state;        // (batch, heads, P, N): the state before step 0; zeros when undefined
  ThreadPool* pool = nullptr;  // CPU threads; nullptr uses ThreadPool::global()
};

struct SsdResult {
  Tensor Y;            // (batch, length, heads, P), float32 (float64 for float64 X)
  Tensor final_state;  // (batch, heads, P, N)
};

/// X: (batch, length, heads, P); A: (batch, length, heads), the log-decay (already times dt);
/// B, C: (batch, length, groups, N), head h reading group h / (heads / groups). float32 or
/// float64 on the CPU, float32 on CUDA (every input on X's device); any strides.
SsdResult ssd(const Tensor& X, const Tensor& A, const Tensor& B, const Tensor& C, const SsdOptions& options = {});

}  // namespace subq::ssm
