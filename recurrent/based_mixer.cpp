#include "recurrent/based_mixer.hpp"

#include <cmath>

#include "core/check.hpp"
#include "core/dense.hpp"
#include "recurrent/based.hpp"
#include "recurrent/linear_attention.hpp"

namespace subq::recurrent {

namespace {

enum Slot : std::size_t { kState, kNormalizer };
constexpr double kEpsilon = 1e-6;  // fla's parallel_based

}  // namespace

BasedMixer BasedMixer::load(Checkpoint& ck, const std::string& prefix, const BasedMixerConfig& c) {
  BasedMixer m;
  m.config_ = c;
  const std::int64_t H = c.hidden, features = c.heads * c.feature_dim;
  m.q_ = ck.take_matrix(prefix + "q_proj.weight", {features, H});
  m.k_ = ck.take_matrix(prefix + "k_proj.weight", {features, H});
  m.v_ = ck.take_matrix(prefix + "v_proj.weight", {H, H});
  m.o_ = ck.take_matrix(prefix + "o_proj.weight", {H, H});
  return m;
}

Tensor BasedMixer::forward(const Tensor& x, MixerState* state, MixerContext&) const {
  const BasedMixerConfig& c = config_;
  const std::int64_t B = x.size(0), L = x.size(1), head_dim = c.hidden / c.heads;
  const double scale = 1 / std::sqrt(double(c.feature_dim));
  const Tensor q = taylor_features(linear(x, q_).view({B, L, c.heads, c.feature_dim}), scale);
  const Tensor k = taylor_features(linear(x, k_).view({B, L, c.heads, c.feature_dim}), scale);
  LinearAttentionOptions options;
  options.normalize = true;
  options.epsilon = kEpsilon;
  if (state) options.initial_state = (*state)[kState], options.initial_normalizer = (*state)[kNormalizer];
  const LinearAttentionResult r = linear_attention(q, k, linear(x, v_).view({B, L, c.heads, head_dim}), options);
  if (state) (*state)[kState] = r.final_state, (*state)[kNormalizer] = r.final_normalizer;
  return linear(r.o.view({B, L, c.hidden}), o_);
}

std::unique_ptr<Mixer> make_based_mixer(Checkpoint& checkpoint, const MixerSite& site) {
  const JsonConfig& c = site.config;
  const BasedMixerConfig config{site.hidden, c.get_int("based_num_heads", c.get_int("num_attention_heads")),
                                c.get_int("based_feature_dim", 16)};
  SUBQ_CHECK(config.heads >= 1 && site.hidden % config.heads == 0 && config.feature_dim >= 1,
             "{}: based_num_heads {} must divide hidden_size {}; based_feature_dim {} must be >= 1", c.source(),
             config.heads, site.hidden, config.feature_dim);
  return std::make_unique<BasedMixer>(BasedMixer::load(checkpoint, site.prefix, config));
}

}  // namespace subq::recurrent
