#pragma once
// Internal: the CUDA launchers of SSD's chunk passes (ssm/ssd.cu), in plain types. ssm/ssd.cpp
// checks, allocates and passes the chunk states through the scan core in between.
#include <cstdint>
#include <string>

namespace subq::ssm::detail {

/// The largest chunk the CUDA kernels take: their shared-memory tiles hold kMaxCudaChunk steps.
constexpr std::int64_t kMaxCudaChunk = 64;

struct SsdCudaParams {
  const float* X;  // (batch, L, heads, P), contiguous
  const float* A;  // (batch, L, heads)
  const float* B;  // (batch, L, groups, N)
  const float* C;
  std::int64_t batch, L, heads, P, groups, N, Q, chunks;
  float* Y;             // (batch, L, heads, P)
  float* chunk_states;  // (batch * heads, P * N, chunks): each chunk's state from a zero start
  float* chunk_decay;   // (batch * heads, chunks): exp(sum of A over the chunk)
};

/// Pass 1: intra-chunk outputs into Y, each chunk's own state and total decay.
std::string launch_ssd_chunks(const SsdCudaParams& params);
/// Pass 3: adds to Y each chunk's outputs from the state entering it: h0 (batch * heads, P * N)
/// for the first chunk, states (batch * heads, P * N, chunks) at chunk c - 1 for the others.
std::string launch_ssd_state_outputs(const SsdCudaParams& params, const float* h0, const float* states);

}  // namespace subq::ssm::detail
