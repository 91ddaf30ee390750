#pragma once
// RWKV-6's WKV, as fla's chunk_rwkv6 / fused_recurrent_rwkv6 define it (scale 1). Per batch b
// and head h, with a (d_k x d_v) state and a data-dependent decay per key dimension:
//   o[t] = r[t] (S[t-1] + diag(u) k[t]^T v[t]),   S[t] = diag(exp(w[t])) S[t-1] + k[t]^T v[t]
// Two forms with the same results. Stepped (decoding; on the CPU also prefill where batch x heads
// fill the threads): a tile of the state in registers through a span of steps. Chunked: within a
// chunk the outputs are decay-weighted products of r, k and v, each chunk's own state is a matrix
// product, and the states entering the chunks come from the scan core's linear recurrence, so the
// chunks run in parallel along the sequence.
// Decays are kept as running products of exp(w) <= 1, never as exp of differences of sums.
#include <cstdint>

#include "../core/tensor.hpp"

namespace subq::recurrent {

struct Wkv6Options {
  Tensor initial_state;           // (batch, heads, d_k, d_v), or undefined for zeros
  // 0: on the CPU the stepped form where batch x heads give every thread two heads, else chunks of
  // 64; on CUDA chunks enough to fill the GPU. > 0: chunks of that length.
  std::int64_t chunk_length = 0;
};

struct Wkv6Result {
  Tensor o;            // (batch, length, heads, d_v)
  Tensor final_state;  // (batch, heads, d_k, d_v)
};

/// r, k, w: (batch, length, heads, d_k), w the log-decay (<= 0); v: (batch, length, heads, d_v);
/// u: (heads, d_k). float32 or float64 on the CPU; on CUDA (every operand on r's GPU, d_k <= 256,
/// d_v <= 1024) also bfloat16, with float32 states (float64 for float64 inputs) and outputs in r's
/// dtype.
Wkv6Result wkv6(const Tensor& r, const Tensor& k, const Tensor& v, const Tensor& w, const Tensor& u,
                const Wkv6Options& options = {});

/// The same, one step at a time.
Wkv6Result wkv6_recurrent(const Tensor& r, const Tensor& k, const Tensor& v, const Tensor& w, const Tensor& u,
                          const Tensor& initial_state = {});

}  // namespace subq::recurrent
