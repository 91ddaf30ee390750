#include "conv/hyena_mixer.hpp"

#include "conv/hyena.hpp"

namespace subq::conv {

std::unique_ptr<Mixer> make_hyena_mixer(Checkpoint& checkpoint, const MixerSite& site) {
  const JsonConfig& c = site.config;
  HyenaOperator::Options o;
  o.order = c.get_int("hyena_order", 2), o.l_max = c.get_int("hyena_l_max", 2048), o.d_model = site.hidden;
  o.emb_dim = c.get_int("hyena_emb_dim", 3), o.filter_width = c.get_int("hyena_filter_order", 64);
  o.sine_stages = c.get_int("hyena_num_inner_mlps", 2) + 1;
  auto op = std::make_shared<const HyenaOperator>(HyenaOperator::load(checkpoint, site.prefix, o));
  return std::make_unique<RerunMixer>([op](const Tensor& u) { return op->forward(u); });
}

}  // namespace subq::conv
