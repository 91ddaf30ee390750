#pragma once
// RWKV-4's WKV operator, per channel c with decay w = -exp(time_decay[c]) < 0 and bonus
// u = time_first[c]:
//   out[t] = (sum_{i<t} e^{(t-1-i) w + k_i} v_i + e^{u + k_t} v_t) / (sum_{i<t} e^{(t-1-i) w + k_i} + e^{u + k_t})
// computed as Hugging Face's RwkvForCausalLM does: the numerator and denominator are each a linear
// recurrence (decay e^w, input e^k v and e^k), kept scaled by e^-max with the running maximum of
// the exponents, so that large keys never overflow.
#include <cstdint>

#include "../core/tensor.hpp"

namespace subq::recurrent {

/// The carried state, each (batch, channels): num and den scaled by e^-max.
struct Wkv4State {
  Tensor num, den, max;
};

struct Wkv4Options {
  Wkv4State initial_state;        // where to start; undefined tensors: the empty history
  std::int64_t chunk_length = 0;  // 0: the implementation's choice (below)
};

struct Wkv4Result {
  Tensor out;             // (batch, length, channels)
  Wkv4State final_state;  // after the last step
};

/// time_decay, time_first: (channels); k, v: (batch, length, channels), any strides. On the CPU float32 or float64; on
/// CUDA (every operand on k's GPU) also bfloat16 k and v, with the weights and state in float32 (float64 for float64
/// inputs) and outputs in k's dtype. Two forms with the same results: recurrent (threads over batch and blocks of
/// channels) and chunked (chunks of chunk_length steps, parallel across chunks, their states passed along).
/// chunk_length 0 picks: on the CPU the chunked form when batch x channels leave threads idle on
/// a long sequence, else the recurrent one; on CUDA chunks enough to fill the GPU.
Wkv4Result wkv4(const Tensor& time_decay, const Tensor& time_first, const Tensor& k, const Tensor& v,
                const Wkv4Options& options = {});

}  // namespace subq::recurrent
