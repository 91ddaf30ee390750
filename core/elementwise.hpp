#pragma once
// Element-wise operations on float32 tensors of any shape, on the CPU or the input's GPU, with
// every operand on one device: activations, products, the token-shift mixes of RWKV and the
// gated products of SwiGLU and output gates. Functions that take a Tensor by value write it in
// place (it must be contiguous) and return it.
#include "activation.hpp"
#include "tensor.hpp"

namespace subq {

/// f applied to every element, in place.
Tensor activate(Tensor t, Activation f);

/// a * b, in place in a; b has a's shape or is (features), broadcast over the rows.
Tensor multiply(Tensor a, const Tensor& b);

/// a + (b - a) * m = b * m + a * (1 - m), RWKV-4's static token-shift mix; m (1, 1, features).
Tensor lerp(const Tensor& a, const Tensor& b, const Tensor& m);

/// silu(a) * b (b of a's shape), in place in a.
Tensor swish_product(Tensor a, const Tensor& b);

/// a + b * c as a new tensor; b of a's shape, c of a's shape or (features), broadcast over the rows.
Tensor add_scaled(const Tensor& a, const Tensor& b, const Tensor& c);

}  // namespace subq
