#include "lm/stack.hpp"

#include "core/check.hpp"
#include "core/dense.hpp"
#include "core/elementwise.hpp"

namespace subq::lm {

Norm Norm::rms(Checkpoint& checkpoint, const std::string& prefix, std::int64_t hidden, double eps) {
  return {Kind::Rms, checkpoint.take_norm(prefix + "weight", {hidden}), {}, eps};
}

Norm Norm::layer(Checkpoint& checkpoint, const std::string& prefix, std::int64_t hidden, double eps, bool bias) {
  const Tensor weight = checkpoint.take_norm(prefix + "weight", {hidden});
  return {Kind::Layer, weight, bias ? checkpoint.take(prefix + "bias", {hidden}) : Tensor{}, eps};
}

Norm Norm::rms_plus_one(Checkpoint& checkpoint, const std::string& prefix, std::int64_t hidden, double eps) {
  Tensor weight = checkpoint.take_on_cpu(prefix + "weight", {hidden}).contiguous().clone();
  for (std::int64_t i = 0; i < hidden; ++i) weight.data<float>()[i] += 1.0f;
  return {Kind::Rms, weight.to(checkpoint.device()), {}, eps};
}

Tensor Norm::operator()(const Tensor& x) const {
  return kind == Kind::Rms ? rms_norm(x, weight, eps) : layer_norm(x, weight, bias, eps);
}

SwiGlu load_swiglu(Checkpoint& checkpoint, const std::string& prefix, std::int64_t hidden, std::int64_t F) {
  return {checkpoint.take_matrix(prefix + "gate_proj.weight", {F, hidden}),
          checkpoint.take_matrix(prefix + "up_proj.weight", {F, hidden}),
          checkpoint.take_matrix(prefix + "down_proj.weight", {hidden, F})};
}

Tensor output_head(Checkpoint& checkpoint, const std::string& name, const Tensor& embeddings, bool tied) {
  const bool stored = checkpoint.contains(name) || !tied;
  const Tensor head = stored ? checkpoint.take_matrix(name, embeddings.shape()) : Tensor{};
  return tied ? embeddings : head;
}

Stack load_stack(Checkpoint& ck, const StackLayout& layout, const std::function<Block(std::int64_t)>& load_block,
                 const std::function<Norm()>& load_final_norm) {
  Ends ends;
  ends.embeddings = ck.take_matrix(layout.embeddings, {layout.vocab, layout.hidden});
  std::vector<Block> blocks;
  for (std::int64_t i = 0; i < layout.layers; ++i) blocks.push_back(load_block(i));
  ends.final_norm = load_final_norm();
  ends.head = output_head(ck, layout.head, ends.embeddings, layout.tie_embeddings);
  ends.embedding_scale = layout.embedding_scale, ends.logit_cap = layout.logit_cap;
  return Stack(std::move(ends), std::move(blocks));
}

Tensor Stack::embed(const Tensor& input_ids) const {
  const Tensor h = embedding(ends_.embeddings, input_ids);
  return ends_.embedding_scale != 1 ? scale(h, ends_.embedding_scale) : h;
}

Tensor Stack::logits(const Tensor& h) const {
  const Tensor logits = linear(ends_.final_norm(h), ends_.head);
  if (ends_.logit_cap <= 0) return logits;
  return scale(activate(scale(logits, 1 / ends_.logit_cap), Activation::Tanh), ends_.logit_cap);
}

Tensor Stack::hidden(const Tensor& input_ids, ModelCache* cache, const BlockHook& block_entered,
                     const BlockHook& block_left) const {
  if (cache && cache->empty()) cache->layers.resize(blocks_.size());
  MixerContext context{cache ? cache->position : 0, {}};
  Tensor h = embed(input_ids);
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    const Block& b = blocks_[i];
    ModelCache::Layer* state = cache ? &cache->layers[i] : nullptr;
    if (block_entered) block_entered(i, *state);
    if (b.pre_norm.defined()) h = b.pre_norm(h);
    add_into(h, b.mixer->forward(b.mixer_norm(h), state ? &state->mixer : nullptr, context));
    if (b.feed_forward) add_into(h, b.feed_forward(b.feed_forward_norm(h), state ? &state->feed_forward : nullptr));
    if (b.residual_scale != 1) h = scale(h, b.residual_scale);
    if (block_left) block_left(i, *state);
  }
  return h;
}

std::uint64_t Stack::fingerprint() const {
  std::uint64_t hash = 14695981039346656037ull;  // FNV-1a
  const auto mix = [&](const void* data, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) hash = (hash ^ static_cast<const unsigned char*>(data)[i]) * 1099511628211ull;
  };
  const Tensor& table = ends_.embeddings;
  for (const std::int64_t extent : table.shape()) mix(&extent, sizeof extent);
  const std::size_t blocks = blocks_.size();
  mix(&blocks, sizeof blocks);
  const std::int64_t V = table.size(0);
  for (const std::int64_t row : {std::int64_t(0), V - 1}) {
    const Tensor bytes = table.slice(0, row, row + 1).to(Device::cpu());
    mix(bytes.raw_data(), storage_bytes(bytes.dtype(), bytes.numel()));
  }
  return hash;
}

Tensor Stack::forward_packed(const Tensor& input_ids, const Packing& packing) const {
  MixerContext context;
  Tensor h = embed(input_ids);
  for (const Block& b : blocks_) {
    if (b.pre_norm.defined()) h = b.pre_norm(h);
    add_into(h, b.mixer->forward_packed(b.mixer_norm(h), packing, context));
    if (b.feed_forward) {
      const Tensor x = b.feed_forward_norm(h);
      add_into(h, b.feed_forward_shifts ? map_padded(x, packing,
                                                     [&](const Tensor& padded, std::span<const std::int64_t>) {
                                                       return b.feed_forward(padded, nullptr);
                                                     })
                                        : b.feed_forward(x, nullptr));
    }
    if (b.residual_scale != 1) h = scale(h, b.residual_scale);
  }
  return logits(h);
}

}  // namespace subq::lm
