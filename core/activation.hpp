#pragma once
// The element-wise activations of the library's layers (PyTorch's definitions; the functions
// themselves, one for the CPU loops and the CUDA kernels, are in core/math.hpp).

namespace subq {

enum class Activation {
  Identity,
  Sigmoid,     // 1 / (1 + exp(-z))
  ReluSquare,  // max(z, 0)^2, RWKV's channel-mix key
  Tanh,
  NegExp,      // -exp(z), RWKV-6's log-decay
  Silu,        // z * sigmoid(z)
  Rwkv7Decay,  // -exp(-1/2) sigmoid(z), RWKV-7's log-decay (fla's constant in float32)
  GeluTanh,    // z/2 (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))), torch's gelu(approximate="tanh"), Griffin's
};

}  // namespace subq
