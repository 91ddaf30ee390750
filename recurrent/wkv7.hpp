#pragma once
// RWKV-7's WKV, the generalised delta rule, as fla's rwkv7 kernels define it (scale 1). Per
// batch b and head h, a (d_v x d_k) state:
//   S[t] = S[t-1] diag(exp(w[t])) + (S[t-1] a[t]) b[t]^T + v[t] k[t]^T,   o[t] = S[t] r[t]
// (RWKV-7 passes a = -kk and b = kk * a_gate: a decay plus a partial replacement of what the state
// holds along the normalised key kk.) Two forms with the same results: stepped, the default (on
// the CPU over spans of steps with the state transposed, so that S a and S r are FMAs of whole
// rows), and chunked, after fla's chunk_dplr: within a chunk of q steps the vectors
// u[t] = S[t-1] a[t] solve one unit lower-triangular system whose coefficients are decay-weighted
// inner products of the chunk's rows, and outputs and the state at the chunk's end are matrix
// products. A chunk's transition of the state is dense (d_k x d_k), not a decay per element, so the
// state passes from chunk to chunk in order, per head: threads go over batch x heads. Decays are
// running products of exp(w) <= 1, never exp of differences of sums; the decay between two steps
// of a chunk is a ratio of them only where the chunk's total decay leaves that ratio far from
// overflow, else a running product itself.
#include <cstdint>

#include "../core/tensor.hpp"

namespace subq::recurrent {

struct Wkv7Options {
  Tensor initial_state;           // (batch, heads, d_v, d_k), or undefined for zeros
  std::int64_t chunk_length = 0;  // 0: stepped; > 0: chunks of that length (on the CPU)
};

struct Wkv7Result {
  Tensor o;            // (batch, length, heads, d_v)
  Tensor final_state;  // (batch, heads, d_v, d_k)
};

/// r, w, k, a, b: (batch, length, heads, d_k), w the log-decay; v: (batch, length, heads, d_v).
/// float32 or float64 on the CPU; on CUDA (every operand on r's GPU, d_k <= 256, d_v <= 1024) also
/// bfloat16, with float32 states (float64 for float64 inputs) and outputs in r's dtype; CUDA always
/// steps one at a time (a chunk's dense transition leaves nothing to split along time).
Wkv7Result wkv7(const Tensor& r, const Tensor& w, const Tensor& k, const Tensor& v, const Tensor& a, const Tensor& b,
                const Wkv7Options& options = {});

/// The same, one step at a time.
Wkv7Result wkv7_recurrent(const Tensor& r, const Tensor& w, const Tensor& k, const Tensor& v, const Tensor& a,
                          const Tensor& b, const Tensor& initial_state = {});

}  // namespace subq::recurrent
