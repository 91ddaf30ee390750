#pragma once
// Internal: scalar activation functions with PyTorch's exact definitions, and exp(t * a) for a
// real or complex a, in host and device code.
#include <cmath>

#include "core/activation.hpp"
#include "core/complex.hpp"

namespace subq {

/// torch.nn.functional.softplus with beta 1 and threshold 20: x itself above the threshold.
template <class T>
SUBQ_HOST_DEVICE T softplus(T x) {
  return x > T(20) ? x : std::log1p(std::exp(x));
}

template <class T>
SUBQ_HOST_DEVICE T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

/// log(sigmoid(x)) = -softplus(-x), without overflow at either end (torch's logsigmoid).
template <class T>
SUBQ_HOST_DEVICE T log_sigmoid(T x) {
  return x < T(0) ? x - std::log1p(std::exp(x)) : -std::log1p(std::exp(-x));
}

/// x * sigmoid(x), also called swish.
template <class T>
SUBQ_HOST_DEVICE T silu(T x) {
  return x / (T(1) + std::exp(-x));
}

/// f(z) for any of the library's activations.
template <class T>
SUBQ_HOST_DEVICE T activation(Activation f, T z) {
  switch (f) {
    case Activation::Identity: return z;
    case Activation::Sigmoid: return sigmoid(z);
    case Activation::ReluSquare: return z > T(0) ? z * z : T(0);
    case Activation::Tanh: return std::tanh(z);
    case Activation::NegExp: return -std::exp(z);
    case Activation::Silu: return silu(z);
    case Activation::Rwkv7Decay: return T(-0.6065306597126334f) * sigmoid(z);
    case Activation::GeluTanh:
      return T(0.5) * z * (T(1) + std::tanh(T(0.7978845608028654) * (z + T(0.044715) * z * z * z)));
  }
  return z;
}

/// exp(t * a) for a real step t and a real or complex rate a.
template <class T>
SUBQ_HOST_DEVICE T exp_scaled(T t, T a) {
  return std::exp(t * a);
}
template <class T>
SUBQ_HOST_DEVICE Complex<T> exp_scaled(T t, Complex<T> a) {
  const T magnitude = std::exp(t * a.re);
  return {magnitude * std::cos(t * a.im), magnitude * std::sin(t * a.im)};
}

}  // namespace subq
