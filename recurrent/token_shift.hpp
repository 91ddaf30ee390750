#pragma once
// Internal: RWKV's token shift, on float32 (batch, length, features) tensors on the CPU or a GPU.
#include "core/tensor.hpp"

namespace subq::recurrent {

/// x shifted one step back in time, with the carried row (or zeros) first; the carried row then
/// becomes x's last. carried may be null (no cache).
Tensor token_shift(const Tensor& x, Tensor* carried);

/// token_shift(x, carried) - x: how far each step is from the one before it (fla's token_shift).
Tensor token_delta(const Tensor& x, Tensor* carried);

}  // namespace subq::recurrent
