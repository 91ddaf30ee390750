#include "ssm/s4_mixer.hpp"

#include "core/check.hpp"
#include "ssm/s4.hpp"

namespace subq::ssm {

std::unique_ptr<Mixer> make_s4_mixer(Checkpoint& checkpoint, const MixerSite& site) {
  const JsonConfig& c = site.config;
  S4Block::Options o;
  o.disc = parse_discretization(c.get_string("s4_disc", "zoh"));
  o.d_model = site.hidden, o.d_state = c.get_int("s4_d_state", 64) / 2, o.channels = c.get_int("s4_channels", 1);
  SUBQ_CHECK(o.d_state >= 1 && o.channels >= 1, "{}: s4_d_state must be >= 2 and s4_channels >= 1", c.source());
  auto block = std::make_shared<const S4Block>(S4Block::load(checkpoint, site.prefix, o));
  // The block runs on (batch, H, length).
  return std::make_unique<RerunMixer>(
      [block](const Tensor& u) { return block->forward(u.transpose(1, 2)).transpose(1, 2); });
}

}  // namespace subq::ssm
