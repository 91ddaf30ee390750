#pragma once
// xLSTM's mLSTM cell (Beck et al. 2024), the stabilised form of NX-AI/xlstm's
// recurrent_step_stabilized_simple. Per batch b and head h, a (d_k x d_v) memory C, a normaliser n
// (d_k) and a stabiliser m, with input gate i (exponential) and forget gate log f (log-sigmoid, or
// exponential: log f = the pre-activation):
//   m[t] = max(log f[t] + m[t-1], i[t]),   f' = exp(log f[t] + m[t-1] - m[t]),   i' = exp(i[t] - m[t])
//   C[t] = f' C[t-1] + i' (k[t] / sqrt(d_k))^T v[t],   n[t] = f' n[t-1] + i' k[t] / sqrt(d_k)
//   h[t] = q[t] C[t] / (max(|q[t] . n[t]|, exp(-m[t])) + 1e-6)
// Once m is known (a max-plus scan over one scalar per head and step, done first), C and n follow a
// linear recurrence with decays f' <= 1 and inputs scaled by i' <= 1: SSD (ssm/ssd.hpp) with log-decay
// log f + m[t-1] - m[t], X = i' [v, 1] (n rides along as a last column, as linear attention's
// normaliser does), B = k / sqrt(d_k) and C = q. So the chunks are stable and exact, and pass their
// states through the scan core.
#include <cstdint>

#include "../core/tensor.hpp"

namespace subq::recurrent {

enum class ForgetGate {
  Sigmoid,      // log f = log sigmoid(pre-activation), xlstm's
  Exponential,  // log f = pre-activation, the paper's other choice
};

struct MlstmOptions {
  ForgetGate forget_gate = ForgetGate::Sigmoid;
  double epsilon = 1e-6;          // xlstm's
  Tensor initial_C;               // (batch, heads, d_k, d_v); each initial tensor undefined for zeros
  Tensor initial_n;               // (batch, heads, d_k)
  Tensor initial_m;               // (batch, heads)
  std::int64_t chunk_length = 0;  // SSD's; 0 lets it choose
};

struct MlstmResult {
  Tensor h;        // (batch, length, heads, d_v), before the cell's output norm
  Tensor final_C;  // (batch, heads, d_k, d_v)
  Tensor final_n;  // (batch, heads, d_k)
  Tensor final_m;  // (batch, heads)
};

/// q, k: (batch, length, heads, d_k); v: (batch, length, heads, d_v); input_gate, forget_gate:
/// (batch, length, heads) pre-activations; every operand of q's dtype and on its device: float32 or
/// float64 on the CPU, float32 on CUDA.
MlstmResult mlstm(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& input_gate,
                  const Tensor& forget_gate, const MlstmOptions& options = {});

/// The same, one step at a time in float64 on the CPU (rounded to q's dtype, returned on the CPU):
/// the specification.
MlstmResult mlstm_recurrent(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& input_gate,
                            const Tensor& forget_gate, const MlstmOptions& options = {});

}  // namespace subq::recurrent
