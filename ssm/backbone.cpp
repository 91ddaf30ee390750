#include "ssm/backbone.hpp"

#include "core/check.hpp"
#include "core/dense.hpp"

namespace subq::ssm {

std::string mixer_tensor(int layer, const std::string& name) {
  return fmt::format("backbone.layers.{}.mixer.{}", layer, name);
}

Backbone Backbone::load(Checkpoint& checkpoint, const BackboneSizes& sizes) {
  Backbone b;
  b.sizes_ = sizes;
  b.embeddings_ = checkpoint.take("backbone.embeddings.weight", {sizes.vocab, sizes.hidden});
  for (int i = 0; i < sizes.layers; ++i)
    b.norms_.push_back(checkpoint.take(fmt::format("backbone.layers.{}.norm.weight", i), {sizes.hidden}));
  b.norm_f_ = checkpoint.take("backbone.norm_f.weight", {sizes.hidden});
  // Tied: the head is the embeddings, as transformers ties them after loading, even when the
  // file also holds an lm_head.weight.
  const bool stored_head = checkpoint.contains("lm_head.weight") || !sizes.tie_embeddings;
  const Tensor head = stored_head ? checkpoint.take("lm_head.weight", {sizes.vocab, sizes.hidden}) : Tensor{};
  b.lm_head_ = sizes.tie_embeddings ? b.embeddings_ : head;
  return b;
}

Tensor Backbone::forward(const Tensor& input_ids, const Mixers& mixers, SsmCache* cache) const {
  SUBQ_CHECK(input_ids.defined() && input_ids.dim() == 2 && input_ids.dtype() == DType::I64,
             "model: input_ids: expected (batch, length) int64, found {} {}",
             input_ids.defined() ? dtype_name(input_ids.dtype()) : "nothing",
             input_ids.defined() ? to_string(input_ids.shape()) : "");
  if (cache && cache->empty()) {
    cache->conv.resize(std::size_t(sizes_.layers));
    cache->ssm.resize(std::size_t(sizes_.layers));
  }
  Tensor h = embedding(embeddings_, input_ids);
  for (int i = 0; i < sizes_.layers; ++i) {
    const Tensor update = mixers.mix(i, rms_norm(h, norms_[std::size_t(i)], sizes_.eps), cache).contiguous();
    float* hp = h.data<float>();
    const float* up = update.data<float>();
    for (std::int64_t k = 0; k < h.numel(); ++k) hp[k] += up[k];
  }
  return linear(rms_norm(h, norm_f_, sizes_.eps), lm_head_);
}

}  // namespace subq::ssm
