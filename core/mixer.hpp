#pragma once
// The interface of sequence mixers: layers that mix information along time, on x (batch, length,
// hidden), carrying what they need from one call to the next (a recurrent state, a KV cache, the
// inputs so far). Every mixer of the library implements it: Mamba and Mamba-2 (ssm/), attention
// (attention/), RetNet's retention and the RWKV-4/6/7 time mixes (recurrent/), S4D (ssm/) and
// Hyena (conv/), so a model composes any of them. Each family's factory (make_*_mixer) builds its
// mixer from a checkpoint and the config keys it owns.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint.hpp"
#include "config.hpp"
#include "packing.hpp"
#include "tensor.hpp"

namespace subq {

/// What one mixer carries between calls, in numbered slots that are undefined until first written.
class MixerState {
 public:
  Tensor& operator[](std::size_t slot) {
    if (slot >= slots_.size()) slots_.resize(slot + 1);
    return slots_[slot];
  }
  /// The slots written so far (and any below them), for code that moves a state as a whole.
  std::size_t size() const { return slots_.size(); }
  const Tensor& operator[](std::size_t slot) const { return slots_.at(slot); }
  /// A deep copy, every slot's tensor cloned: a branch of the sequences, leaving these as they are.
  MixerState clone() const {
    MixerState copy;
    for (const Tensor& t : slots_) copy.slots_.push_back(t.defined() ? t.clone() : Tensor());
    return copy;
  }

 private:
  std::vector<Tensor> slots_;
};

/// What the mixers of one forward call read besides their input.
struct MixerContext {
  std::int64_t position = 0;  // tokens of the sequences before x's first
  Tensor v_first;             // RWKV-7: the first RWKV-7 layer's values, which the later ones mix toward
};

class Mixer {
 public:
  virtual ~Mixer() = default;
  /// x (batch, length, hidden) -> (batch, length, hidden) on x's device. With a state, continues
  /// the sequences it holds (undefined slots: fresh ones) and leaves the state after the last token.
  virtual Tensor forward(const Tensor& x, MixerState* state, MixerContext& context) const = 0;
  /// Sequences of different lengths packed end to end, x (1, total, hidden) -> (1, total,
  /// hidden), each sequence from an empty state as if it ran alone: no step of one reaches the
  /// next. context.v_first, when set, is packed as x is. This default runs forward() on right-
  /// padded batches of similar lengths (map_padded: exact, since every mixer is causal); a mixer
  /// whose kernels take the sequences' boundaries overrides it.
  virtual Tensor forward_packed(const Tensor& x, const Packing& packing, MixerContext& context) const;
};

/// Where a mixer sits in a model, for its factory: the config keys it reads and the prefix of its
/// tensors' names.
struct MixerSite {
  const JsonConfig& config;  // the model's config.json
  std::string prefix;        // e.g. "model.layers.3.mamba."
  std::int64_t hidden;       // the model's width
  double eps;                // the model's normalisation epsilon
  bool first_of_kind;        // the stack's first layer of this mixer
};

/// Builds a mixer, taking its tensors from the checkpoint; errors name the key or tensor at fault.
using MixerFactory = std::unique_ptr<Mixer> (*)(Checkpoint& checkpoint, const MixerSite& site);

/// x (batch, Lx, ...) appended after the first `filled` time steps of buffer (batch, capacity, ...),
/// which doubles when full, so that decoding appends a token in amortised constant time instead of
/// copying the whole history. Returns the filled steps (batch, filled + Lx, ...), a view. float32.
Tensor append_time(Tensor& buffer, std::int64_t filled, const Tensor& x);

/// A mixer without a recurrent form (the long convolutions, S4D and Hyena) from its function of a
/// whole sequence: the state keeps the inputs so far, and each call reruns the function over them
/// and keeps the outputs of the new tokens.
class RerunMixer final : public Mixer {
 public:
  using WholeSequence = std::function<Tensor(const Tensor& x)>;  // (batch, length, hidden) -> the same
  explicit RerunMixer(WholeSequence whole_sequence) : whole_sequence_(std::move(whole_sequence)) {}
  Tensor forward(const Tensor& x, MixerState* state, MixerContext& context) const override;

 private:
  WholeSequence whole_sequence_;
};

}  // namespace subq
