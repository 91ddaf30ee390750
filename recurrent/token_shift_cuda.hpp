#pragma once
// Internal: the CUDA launchers of RWKV's token shift
// (recurrent/token_shift.cu), float32, contiguous, default stream; recurrent/token_shift.cpp checks
// and allocates. Each returns an error message, empty on success.
#include <cstdint>
#include <string>

namespace subq::recurrent::detail {

/// s (batch, length, features) = x shifted one step back in time, carried (batch, features)
/// first (zeros when null); minus x when `delta`.
std::string launch_token_shift(float* s, const float* x, const float* carried, std::int64_t batch, std::int64_t length,
                               std::int64_t features, bool delta);
}  // namespace subq::recurrent::detail
