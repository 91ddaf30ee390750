#pragma once
// Internal: the S4D block (ssm/s4.hpp) as a hybrid stack's mixer, run in convolution mode: the
// mixer keeps the inputs so far and reruns the block over them (RerunMixer).
#include "core/mixer.hpp"

namespace subq::ssm {

/// An S4D layer, sized by the config's keys s4_d_state (64 states, one of each conjugate pair kept,
/// as s4 counts them), s4_disc (zoh or bilinear) and s4_channels (1).
std::unique_ptr<Mixer> make_s4_mixer(Checkpoint& checkpoint, const MixerSite& site);

}  // namespace subq::ssm
