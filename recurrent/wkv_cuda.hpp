#pragma once
// Internal: the CUDA launchers of the WKV operators (recurrent/wkv4.cu, wkv6.cu, wkv7.cu), in plain
// types; the .cpp files check, convert, allocate and pass chunk states through the scan core.
// Inputs are float32, bfloat16 (both with float32 states) or float64 (float64 states), contiguous.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/dtype.hpp"

namespace subq::recurrent::detail {

/// Steps per chunk on CUDA: the requested length, else chunks enough that `threads` threads per
/// chunk fill the GPU (an H100 holds 132 x 2048), none shorter than min_chunk.
inline std::int64_t cuda_chunk_length(std::int64_t threads, std::int64_t L, std::int64_t requested,
                                      std::int64_t min_chunk) {
  constexpr std::int64_t kFillThreads = std::int64_t(1) << 18;
  if (requested > 0) return requested;
  std::int64_t chunks = kFillThreads / (threads > 0 ? threads : 1);
  if (chunks > L / min_chunk) chunks = L / min_chunk;
  if (chunks < 1) chunks = 1;
  return L > chunks ? (L + chunks - 1) / chunks : 1;
}

/// RWKV-4: chunks of chunk_length steps, each chunk's state from an empty history in parallel,
/// the states entering the chunks passed along, then every chunk rerun from its entering state.
struct Wkv4CudaParams {
  DType input;  // k, v, out
  std::int64_t batch, length, channels, chunk_length, chunks;
  const void* time_decay;  // (channels), state dtype
  const void* time_first;  // (channels), state dtype
  const void* k;           // (batch, length, channels), input dtype
  const void* v;
  const void* num0;  // (batch, channels) each, state dtype: the state before step 0
  const void* den0;
  const void* max0;
  void* out;  // (batch, length, channels), input dtype
  void* num;  // (batch, channels) each, state dtype: the state after the last step
  void* den;
  void* max;
  void* workspace;  // wkv4_workspace_bytes(params)
};

std::size_t wkv4_workspace_bytes(const Wkv4CudaParams& params);
std::string launch_wkv4(const Wkv4CudaParams& params);

/// RWKV-6 and RWKV-7: one block per (chunk, batch x head), one thread per value column (RWKV-6)
/// or row (RWKV-7) holding its d_k state entries in registers.
struct WkvCudaShape {
  DType input;
  std::int64_t batch, length, heads, dk, dv;
};

/// The largest d_k the kernels hold per thread, and the largest d_v (one thread each).
constexpr std::int64_t kWkvMaxKeyDim = 256;
constexpr std::int64_t kWkvMaxValueDim = 1024;

/// RWKV-6, as chunks of chunk_length steps. r, k, w: (batch, length, heads, d_k), w the
/// log-decay; v: (batch, length, heads, d_v); u: (heads, d_k); all input dtype.
struct Wkv6CudaParams {
  WkvCudaShape s;
  std::int64_t chunk_length, chunks;
  const void *r, *k, *v, *w, *u;
};

/// Pass 1: every chunk's own state from zero, own ((batch x heads x d_k), d_v, chunks), and its
/// total decay, decay ((batch x heads x d_k), chunks); state dtype.
std::string launch_wkv6_chunk_states(const Wkv6CudaParams& params, void* own, void* decay);
/// Pass 2: every chunk rerun from its entering state writing o (batch, length, heads, d_v) in the
/// input dtype: chunk 0 from initial_state (batch, heads, d_k, d_v) or zeros when null, chunk c
/// from passed[..., c - 1] (the scan of pass 1's states, laid out like own). The last chunk's end
/// state goes to final_state (batch, heads, d_k, d_v).
std::string launch_wkv6_outputs(const Wkv6CudaParams& params, const void* initial_state, const void* passed, void* o,
                                void* final_state);

/// RWKV-7, one step at a time over the whole sequence (a chunk's transition of the state is a
/// dense d_k x d_k matrix, so there is no element-wise state passing to split it at). r, w, k,
/// a, b: (batch, length, heads, d_k); v: (batch, length, heads, d_v); initial_state (batch,
/// heads, d_v, d_k) or null; o (batch, length, heads, d_v); final_state (batch, heads, d_v, d_k).
struct Wkv7CudaParams {
  WkvCudaShape s;
  const void *r, *w, *k, *v, *a, *b;
  const void* initial_state;
  void* o;
  void* final_state;
};

std::string launch_wkv7(const Wkv7CudaParams& params);

}  // namespace subq::recurrent::detail
