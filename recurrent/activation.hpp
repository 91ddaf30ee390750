#pragma once
// Internal: the element-wise activations of the recurrent models, one definition for the CPU loop
// and the CUDA kernel (recurrent/layer_ops.cu).
#include "core/math.hpp"

namespace subq::recurrent {

enum class Activation {
  Sigmoid,
  ReluSquare,  // max(z, 0)^2, RWKV's channel-mix key
  Tanh,
  NegExp,  // -exp(z), RWKV-6's log-decay
  Silu,
  Rwkv7Decay,  // -exp(-1/2) sigmoid(z), RWKV-7's log-decay (fla's constant in float32)
};

template <class T>
SUBQ_HOST_DEVICE T activation(Activation f, T z) {
  switch (f) {
    case Activation::Sigmoid: return sigmoid(z);
    case Activation::ReluSquare: return z > T(0) ? z * z : T(0);
    case Activation::Tanh: return std::tanh(z);
    case Activation::NegExp: return -std::exp(z);
    case Activation::Silu: return silu(z);
    case Activation::Rwkv7Decay: return T(-0.6065306597126334f) * sigmoid(z);
  }
  return z;
}

}  // namespace subq::recurrent
