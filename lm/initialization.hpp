#pragma once
// Internal: fresh weights for a generated checkpoint (LanguageModel::random, subq init): the usual
// initialisation of the library's architectures, seeded.
#include <cstdint>

#include "core/checkpoint.hpp"

namespace subq::lm {

/// Makes each tensor a generated checkpoint is asked for, drawing from one generator seeded with
/// `seed` in the order they are asked for.
Checkpoint::Generator initial_weights(std::uint64_t seed);

}  // namespace subq::lm
