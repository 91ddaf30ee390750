#pragma once
// Internal: the building blocks every language model of lm/ is made of. A model is a Stack:
//   h = embeddings[ids] * embedding_scale
//   for each block:  h = pre_norm(h)                       (when defined: RWKV's, before layer 0)
//                    h += mixer(mixer_norm(h))
//                    h += feed_forward(feed_forward_norm(h))  (when the block has one)
//                    h *= residual_scale                    (RWKV-4's rescale_every)
//   logits = head(final_norm(h)), soft-capped where the model caps them
// Each architecture's file (lm/<model_type>.cpp) reads its config and fills the blocks with its
// own mixers, feed-forwards and tensor names.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/checkpoint.hpp"
#include "core/dense.hpp"
#include "core/mixer.hpp"
#include "lm/language_model.hpp"

namespace subq::lm {

/// A normalisation over the last dimension: RMSNorm, or LayerNorm (with or without a bias).
struct Norm {
  enum class Kind { Rms, Layer };
  Kind kind = Kind::Rms;
  Tensor weight, bias;
  double eps = 0;

  /// Takes <prefix>weight (and <prefix>bias for a LayerNorm with one).
  static Norm rms(Checkpoint& checkpoint, const std::string& prefix, std::int64_t hidden, double eps);
  static Norm layer(Checkpoint& checkpoint, const std::string& prefix, std::int64_t hidden, double eps, bool bias);
  /// Gemma's RMSNorm, which scales by 1 + <prefix>weight (stored centred at zero).
  static Norm rms_plus_one(Checkpoint& checkpoint, const std::string& prefix, std::int64_t hidden, double eps);

  bool defined() const { return weight.defined(); }
  Tensor operator()(const Tensor& x) const;
};

/// A feed-forward block: x (batch, length, hidden) -> (batch, length, hidden); state: what it
/// carries between calls (RWKV's channel mix shifts a token), or null without a cache.
using FeedForward = std::function<Tensor(const Tensor& x, MixerState* state)>;

/// Takes <prefix>{gate, up, down}_proj.weight of a SwiGLU MLP of width F.
SwiGlu load_swiglu(Checkpoint& checkpoint, const std::string& prefix, std::int64_t hidden, std::int64_t F);

struct Block {
  Norm pre_norm, mixer_norm, feed_forward_norm;
  std::unique_ptr<Mixer> mixer;
  FeedForward feed_forward;  // empty: none (Mamba, Mamba-2)
  /// The feed-forward mixes a token with the one before (RWKV's channel mix), so packed
  /// sequences run it padded (map_padded); the others are position-wise.
  bool feed_forward_shifts = false;
  double residual_scale = 1;  // applied after the block
  /// Weight bytes a decoding step of one token does not read: the experts it is not routed to.
  std::int64_t unread_per_token_bytes = 0;
};

/// The ends of the stack: the token embeddings (vocab, hidden), the final norm and the head.
struct Ends {
  Tensor embeddings, head;
  Norm final_norm;
  double embedding_scale = 1;  // h = embeddings[ids] * embedding_scale (Gemma's sqrt(hidden))
  double logit_cap = 0;        // > 0: logits = cap tanh(logits / cap) (Gemma's soft-capping)
};

/// The output head: <name>, or the embeddings when tied (as transformers ties them after
/// loading, even when the file also holds the head, which is then taken and unused).
Tensor output_head(Checkpoint& checkpoint, const std::string& name, const Tensor& embeddings, bool tied);

/// Where a checkpoint keeps the ends, and how many blocks it has.
struct StackLayout {
  std::string embeddings, head;  // the tensors' names
  std::int64_t vocab, hidden, layers;
  bool tie_embeddings;
  double embedding_scale = 1, logit_cap = 0;  // Ends'
};

class Stack;

/// A checkpoint taken in the order most are stored in: the embeddings, the blocks (load_block(i)
/// for i < layers), the final norm, the head.
Stack load_stack(Checkpoint& checkpoint, const StackLayout& layout,
                 const std::function<Block(std::int64_t)>& load_block, const std::function<Norm()>& load_final_norm);

class Stack {
 public:
  Stack(Ends ends, std::vector<Block> blocks) : ends_(std::move(ends)), blocks_(std::move(blocks)) {}

  std::int64_t vocab_size() const { return ends_.embeddings.size(0); }
  /// Weight bytes a decoding step of one token does not read: the embedding table when the step
  /// only indexes it (a head of its own), and the experts it is not routed to.
  std::int64_t unread_per_token_bytes() const {
    const bool tied = ends_.head.raw_data() == ends_.embeddings.raw_data();
    std::int64_t bytes = tied ? 0 : std::int64_t(storage_bytes(ends_.embeddings.dtype(), ends_.embeddings.numel()));
    for (const Block& b : blocks_) bytes += b.unread_per_token_bytes;
    return bytes;
  }
  /// input_ids (batch, length) int64, validated -> logits (batch, length, vocab), or (batch, 1,
  /// vocab) of the last position when last_only. With a cache, its layers are read and left after
  /// the last token; cache->position counts the tokens before these.
  Tensor forward(const Tensor& input_ids, ModelCache* cache, bool last_only = false) const {
    const Tensor h = hidden(input_ids, cache);
    const std::int64_t L = h.size(1);
    return logits(last_only ? h.slice(1, L - 1, L) : h);
  }
  /// Called with block i's cache layer before the block runs (block_entered) or after it
  /// (block_left), e.g. to take a state from another process or pass it on.
  using BlockHook = std::function<void(std::size_t block, ModelCache::Layer& state)>;
  /// forward() up to the final norm: input_ids (batch, length) -> the last block's output
  /// (batch, length, hidden); with hooks, the cache is required.
  Tensor hidden(const Tensor& input_ids, ModelCache* cache, const BlockHook& block_entered = {},
                const BlockHook& block_left = {}) const;
  /// The final norm and the head on hidden(...)'s output: (batch, n, hidden) -> (batch, n, vocab).
  Tensor logits(const Tensor& h) const;
  std::size_t blocks() const { return blocks_.size(); }
  /// A hash of the stack's sizes and of its embedding table's first and last rows, to tell two
  /// processes' models apart (context parallelism) without reading all the weights.
  std::uint64_t fingerprint() const;
  /// input_ids (1, total) int64, validated, of the sequences `packing` lays out -> logits (1,
  /// total, vocab), each sequence from an empty state.
  Tensor forward_packed(const Tensor& input_ids, const Packing& packing) const;

 private:
  Tensor embed(const Tensor& input_ids) const;

  Ends ends_;
  std::vector<Block> blocks_;
};

/// The Hugging Face Mamba and Mamba-2 layout: backbone.layers.{i}.mixer.* (made by make_mixer
/// from that prefix) under backbone.layers.{i}.norm, between backbone.embeddings and
/// backbone.norm_f, then lm_head.
Stack backbone_stack(Checkpoint& checkpoint, std::int64_t vocab, std::int64_t hidden, std::int64_t layers, double eps,
                     bool tie_embeddings,
                     const std::function<std::unique_ptr<Mixer>(const std::string& prefix)>& make_mixer);

/// The loaders, one per model_type, each in its architecture's file.
Stack load_mamba(Checkpoint& checkpoint);
Stack load_mamba2(Checkpoint& checkpoint);
Stack load_rwkv4(Checkpoint& checkpoint);
Stack load_rwkv6(Checkpoint& checkpoint);
Stack load_rwkv7(Checkpoint& checkpoint);
Stack load_retnet(Checkpoint& checkpoint);
Stack load_gla(Checkpoint& checkpoint);
Stack load_delta_net(Checkpoint& checkpoint);
Stack load_gated_deltanet(Checkpoint& checkpoint);
Stack load_recurrent_gemma(Checkpoint& checkpoint);
Stack load_jamba(Checkpoint& checkpoint);
Stack load_hybrid_stack(Checkpoint& checkpoint);

}  // namespace subq::lm
