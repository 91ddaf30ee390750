#pragma once
// A ragged batch: sequences of different lengths laid end to end along the time axis of one row,
// (1, total, ...), as fla's cu_seqlens and flash-attn's varlen kernels take them. Position-wise
// layers run on the packed tokens as they are, with no padding; a mixer that carries a state
// along time must not let one sequence reach into the next (Mixer::forward_packed).
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "tensor.hpp"

namespace subq {

class Packing {
 public:
  /// Sequence i holds time steps [offset(i), offset(i) + length(i)); each length >= 1.
  explicit Packing(std::vector<std::int64_t> lengths);
  std::int64_t count() const { return std::int64_t(lengths_.size()); }
  std::int64_t total() const { return offsets_.back(); }
  std::int64_t length(std::int64_t i) const { return lengths_[std::size_t(i)]; }
  std::int64_t offset(std::int64_t i) const { return offsets_[std::size_t(i)]; }
  std::span<const std::int64_t> lengths() const { return lengths_; }
  /// Each step's position in its sequence, (1, total) int64 on the CPU: 0 where one starts.
  Tensor positions() const;

  /// The sequences in groups of similar length, longest first, for running as right-padded
  /// batches: a group takes the next sequence while its padding stays within a quarter of its
  /// steps (a batch of equal lengths wastes nothing; 1, 17 and 300 run as three calls, not
  /// one of 900 steps).
  std::vector<std::vector<std::int64_t>> padded_groups() const;

 private:
  std::vector<std::int64_t> lengths_, offsets_;
};

/// The sequences `group` of packed (1, total, ...) as a right-padded batch (group size, the
/// group's longest, ...), zeros after each one's end; float32 or float64, on packed's device.
Tensor pad_sequences(const Tensor& packed, const Packing& packing, std::span<const std::int64_t> group);

/// pad_sequences' inverse: each row of padded (group size, >= its length, ...) written into the
/// time steps of its sequence in packed (1, total, ...), the padding left out.
void unpad_sequences(const Tensor& padded, const Packing& packing, std::span<const std::int64_t> group,
                     const Tensor& packed);

/// An uninitialised packed tensor (1, total, ...) for sequences padded as `padded` is.
Tensor packed_like(const Tensor& padded, const Packing& packing);

/// A function of right-padded batches that carries no state: padded (group size, longest, ...)
/// and the group's sequences -> (group size, longest, ...).
using PaddedCall = std::function<Tensor(const Tensor& padded, std::span<const std::int64_t> group)>;

/// call on each group of packing.padded_groups() as a right-padded batch, its outputs packed as
/// x is: (1, total, ...) -> (1, total, ...). Exact for a causal call: the padding comes after
/// each sequence's steps, so it never reaches their outputs, and no state outlives the call.
Tensor map_padded(const Tensor& x, const Packing& packing, const PaddedCall& call);

}  // namespace subq
