#include "ssm/backbone.hpp"

#include "core/check.hpp"
#include "core/dense.hpp"

namespace subq::ssm {

namespace {

class Backbone final : public hybrid::Architecture {
 public:
  Backbone(Checkpoint& checkpoint, LoadedMixers loaded) : loaded_(std::move(loaded)) {
    const BackboneSizes& s = loaded_.sizes;
    embeddings_ = checkpoint.take("backbone.embeddings.weight", {s.vocab, s.hidden});
    for (int i = 0; i < s.layers; ++i)
      norms_.push_back(checkpoint.take(fmt::format("backbone.layers.{}.norm.weight", i), {s.hidden}));
    norm_f_ = checkpoint.take("backbone.norm_f.weight", {s.hidden});
    lm_head_ = hybrid::output_head(checkpoint, "lm_head.weight", embeddings_, s.tie_embeddings);
  }

  std::int64_t vocab_size() const override { return loaded_.sizes.vocab; }

  Tensor forward(const Tensor& input_ids, ModelCache* cache) const override {
    const BackboneSizes& s = loaded_.sizes;
    Tensor h = embedding(embeddings_, input_ids);
    for (int i = 0; i < s.layers; ++i) {
      std::vector<Tensor>* state = hybrid::layer_cache(cache, std::size_t(s.layers), std::size_t(i), kMixerStates);
      add_into(h, loaded_.mixers->mix(i, rms_norm(h, norms_[std::size_t(i)], s.eps), state));
    }
    return linear(rms_norm(h, norm_f_, s.eps), lm_head_);
  }

 private:
  LoadedMixers loaded_;
  Tensor embeddings_, norm_f_, lm_head_;
  std::vector<Tensor> norms_;
};

}  // namespace

std::string mixer_tensor(int layer, const std::string& name) {
  return fmt::format("backbone.layers.{}.mixer.{}", layer, name);
}

std::unique_ptr<hybrid::Architecture> backbone_architecture(Checkpoint& checkpoint, LoadedMixers mixers) {
  return std::make_unique<Backbone>(checkpoint, std::move(mixers));
}

}  // namespace subq::ssm

namespace subq::hybrid {

std::unique_ptr<Architecture> load_mamba(Checkpoint& checkpoint) {
  return ssm::backbone_architecture(checkpoint, ssm::load_mamba_mixers(checkpoint));
}

std::unique_ptr<Architecture> load_mamba2(Checkpoint& checkpoint) {
  return ssm::backbone_architecture(checkpoint, ssm::load_mamba2_mixers(checkpoint));
}

}  // namespace subq::hybrid
