#include "core/packing.hpp"

#include <algorithm>
#include <numeric>

#include "core/check.hpp"

namespace subq {

Packing::Packing(std::vector<std::int64_t> lengths) : lengths_(std::move(lengths)), offsets_{0} {
  SUBQ_CHECK(!lengths_.empty(), "packed sequences: no sequences");
  for (std::size_t i = 0; i < lengths_.size(); ++i) {
    SUBQ_CHECK(lengths_[i] >= 1, "packed sequences: sequence {} has length {}, expected >= 1", i, lengths_[i]);
    offsets_.push_back(offsets_.back() + lengths_[i]);
  }
}

Tensor Packing::positions() const {
  std::vector<std::int64_t> positions;
  for (const std::int64_t n : lengths_)
    for (std::int64_t t = 0; t < n; ++t) positions.push_back(t);
  return Tensor::from_vector(positions, {1, total()});
}

std::vector<std::vector<std::int64_t>> Packing::padded_groups() const {
  std::vector<std::int64_t> order(lengths_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return length(a) > length(b); });
  std::vector<std::vector<std::int64_t>> groups;
  std::int64_t steps = 0;  // the current group's unpadded steps
  for (const std::int64_t i : order) {
    // Sorted longest first, the group's first sequence is its longest.
    const bool fits = !groups.empty() && 4 * (steps + length(i)) >=
                                             3 * (std::int64_t(groups.back().size()) + 1) * length(groups.back()[0]);
    if (!fits) groups.emplace_back(), steps = 0;
    groups.back().push_back(i), steps += length(i);
  }
  return groups;
}

namespace {

void check_packed(const char* op, const Tensor& packed, const Packing& packing) {
  SUBQ_CHECK(packed.dim() >= 2 && packed.size(0) == 1 && packed.size(1) == packing.total(),
             "{}: expected packed sequences (1, {}, ...), found {}", op, packing.total(), to_string(packed.shape()));
}

}  // namespace

Tensor pad_sequences(const Tensor& packed, const Packing& packing, std::span<const std::int64_t> group) {
  check_packed("pad_sequences", packed, packing);
  std::int64_t longest = 0;
  for (const std::int64_t i : group) longest = std::max(longest, packing.length(i));
  Shape shape = packed.shape();
  shape[0] = std::int64_t(group.size()), shape[1] = longest;
  const Tensor padded = Tensor::zeros(shape, packed.dtype(), packed.device());
  const Tensor steps = packed.contiguous().select(0, 0);
  for (std::size_t r = 0; r < group.size(); ++r) {
    const std::int64_t at = packing.offset(group[r]), n = packing.length(group[r]);
    padded.select(0, std::int64_t(r)).slice(0, 0, n).copy_from(steps.slice(0, at, at + n));
  }
  return padded;
}

void unpad_sequences(const Tensor& padded, const Packing& packing, std::span<const std::int64_t> group,
                     const Tensor& packed) {
  check_packed("unpad_sequences", packed, packing);
  SUBQ_CHECK(padded.dim() == packed.dim() && padded.size(0) == std::int64_t(group.size()),
             "unpad_sequences: expected {} padded rows of rank {}, found {}", group.size(), packed.dim(),
             to_string(padded.shape()));
  SUBQ_CHECK(packed.is_contiguous(), "unpad_sequences: the packed tensor must be contiguous");
  const Tensor steps = packed.select(0, 0), rows = padded.contiguous();
  for (std::size_t r = 0; r < group.size(); ++r) {
    const std::int64_t at = packing.offset(group[r]), n = packing.length(group[r]);
    steps.slice(0, at, at + n).copy_from(rows.select(0, std::int64_t(r)).slice(0, 0, n));
  }
}

Tensor map_padded(const Tensor& x, const Packing& packing, const PaddedCall& call) {
  Tensor y;
  for (const std::vector<std::int64_t>& group : packing.padded_groups()) {
    const Tensor out = call(pad_sequences(x, packing, group), group);
    if (!y.defined()) y = packed_like(out, packing);
    unpad_sequences(out, packing, group, y);
  }
  return y;
}

Tensor packed_like(const Tensor& padded, const Packing& packing) {
  Shape shape = padded.shape();
  shape[0] = 1, shape[1] = packing.total();
  return Tensor::empty(shape, padded.dtype(), padded.device());
}

}  // namespace subq
