#pragma once
// Internal: the Hyena operator (conv/hyena.hpp) as a hybrid stack's mixer. Hyena has no recurrent
// form: the mixer keeps the inputs so far and reruns the operator over them (RerunMixer).
#include "core/mixer.hpp"

namespace subq::conv {

/// A Hyena layer, sized by the config's keys hyena_order (2), hyena_l_max (2048: the longest
/// sequence), hyena_emb_dim (3), hyena_filter_order (64: the filter MLP's width) and
/// hyena_num_inner_mlps (2).
std::unique_ptr<Mixer> make_hyena_mixer(Checkpoint& checkpoint, const MixerSite& site);

}  // namespace subq::conv
