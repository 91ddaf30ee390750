// LanguageModel::forward_context_parallel: the sequences cut into consecutive segments, one per
// rank, run block by block as a wavefront (README, "Context parallelism").
//
// Why a wavefront rather than each rank running its segment from a zero state and correcting it
// once the incoming state is known (scan/cross_rank_scan.hpp): the correction is exact and cheap
// only for the diagonal recurrences (for the dense ones, RWKV-7 and the delta rules, and for
// attention, it is a rerun of the segment), and it needs every mixer to expose its segment's
// transfer. Passing each block's state on as soon as the block is done costs one state per block
// and rank boundary, keeps every rank busy from the (P-1)-th block on, and is the same
// computation as a stream carried through one process, for every mixer alike.
#include <functional>

#include "core/check.hpp"
#include "dist/communicator.hpp"
#include "lm/language_model.hpp"
#include "lm/stack.hpp"

namespace subq {

namespace {

// A block's state as a message: the two states' slot counts, then their slots.
std::vector<Tensor> pack(const ModelCache::Layer& layer) {
  std::vector<Tensor> message{Tensor::from_vector<std::int64_t>(
      {std::int64_t(layer.mixer.size()), std::int64_t(layer.feed_forward.size())}, {2})};
  for (std::size_t i = 0; i < layer.mixer.size(); ++i) message.push_back(layer.mixer[i]);
  for (std::size_t i = 0; i < layer.feed_forward.size(); ++i) message.push_back(layer.feed_forward[i]);
  return message;
}

void unpack(const std::vector<Tensor>& message, ModelCache::Layer& layer, int from, std::size_t block) {
  const bool counted =
      !message.empty() && message[0].defined() && message[0].dtype() == DType::I64 && message[0].numel() == 2;
  const std::int64_t mixer = counted ? message[0].data<std::int64_t>()[0] : -1,
                     feed_forward = counted ? message[0].data<std::int64_t>()[1] : -1;
  SUBQ_CHECK(counted && mixer >= 0 && feed_forward >= 0 && std::int64_t(message.size()) == 1 + mixer + feed_forward,
             "context parallel: block {}'s state from rank {} is not a block state ({} tensors)", block, from,
             message.size());
  layer = {};
  for (std::int64_t i = 0; i < mixer; ++i) layer.mixer[std::size_t(i)] = message[std::size_t(1 + i)];
  for (std::int64_t i = 0; i < feed_forward; ++i)
    layer.feed_forward[std::size_t(i)] = message[std::size_t(1 + mixer + i)];
}

// What every rank must agree on before any state moves, gathered in one collective so that a
// mismatch is an error on every rank (and not a rank waiting for a message that never comes).
struct Agreement {
  std::vector<std::int64_t> lengths;  // each rank's segment
  std::int64_t offset = 0;            // of this rank's segment in the sequences
};

Agreement agree(dist::Communicator& comm, const std::string& architecture, std::uint64_t fingerprint,
                std::int64_t batch, std::int64_t length) {
  // The fingerprint in two exact halves (doubles hold 32-bit integers exactly).
  const std::vector<double> mine = {double(batch), double(length), double(fingerprint >> 32),
                                    double(fingerprint & 0xffffffffu)};
  const std::vector<std::vector<double>> all = comm.all_gather(mine);
  Agreement agreement;
  for (int r = 0; r < comm.size(); ++r) {
    const std::vector<double>& theirs = all[std::size_t(r)];
    SUBQ_CHECK(theirs.size() == mine.size(), "context parallel: rank {} is not in a context-parallel forward", r);
    SUBQ_CHECK(theirs[2] == all[0][2] && theirs[3] == all[0][3],
               "context parallel: rank {} holds another model than rank 0 (the {} weights' fingerprints differ): "
               "every rank must load the same checkpoint",
               r, architecture);
    SUBQ_CHECK(theirs[0] == all[0][0], "context parallel: rank {}'s segment has a batch of {}, rank 0's of {}", r,
               theirs[0], all[0][0]);
    agreement.lengths.push_back(std::int64_t(theirs[1]));
    if (r < comm.rank()) agreement.offset += std::int64_t(theirs[1]);
  }
  return agreement;
}

}  // namespace

void LanguageModel::forward_context_parallel(
    const Tensor& input_ids, dist::Communicator& comm, std::int64_t piece_length,
    const std::function<void(std::int64_t first, const Tensor& logits)>& each_piece) const {
  SUBQ_CHECK(
      input_ids.defined() && input_ids.dim() == 2 && input_ids.dtype() == DType::I64 && input_ids.device().is_cpu(),
      "{} model: forward_context_parallel: input_ids: expected (batch, length >= 0) int64 on the CPU, found {} {}",
      architecture_, input_ids.defined() ? dtype_name(input_ids.dtype()) : "nothing",
      input_ids.defined() ? to_string(input_ids.shape()) : "");
  SUBQ_CHECK(piece_length >= 1, "{} model: forward_context_parallel: piece_length must be >= 1, found {}",
             architecture_, piece_length);
  SUBQ_CHECK(network_->blocks() < 8000, "context parallel: at most 8000 blocks (message tags), found {}",
             network_->blocks());
  const std::int64_t length = input_ids.size(1);
  const Agreement agreement = agree(comm, architecture_, network_->fingerprint(), input_ids.size(0), length);
  const int r = comm.rank(), P = comm.size();
  const auto take = [&](std::size_t block, ModelCache::Layer& layer) {
    if (r > 0) unpack(comm.receive(r - 1, int(block)), layer, r - 1, block);
  };
  const auto pass_on = [&](std::size_t block, ModelCache::Layer& layer) {
    if (r + 1 < P) comm.send(pack(layer), r + 1, int(block));
  };
  ModelCache cache;
  cache.layers.resize(network_->blocks());
  cache.position = agreement.offset;
  if (length == 0) {
    // Nothing of this rank's own: the state after the segments before it goes on as it came.
    for (std::size_t i = 0; i < network_->blocks(); ++i) take(i, cache.layers[i]), pass_on(i, cache.layers[i]);
  } else {
    const Tensor h = network_->hidden(input_ids.contiguous(), &cache, take, pass_on);
    for (std::int64_t first = 0; first < length; first += piece_length) {
      const std::int64_t n = std::min(piece_length, length - first);
      each_piece(first, network_->logits(h.slice(1, first, first + n)).to(Device::cpu()));
    }
  }
  comm.flush();
}

Tensor LanguageModel::forward_context_parallel(const Tensor& input_ids, dist::Communicator& comm) const {
  const std::int64_t length = input_ids.defined() && input_ids.dim() == 2 ? input_ids.size(1) : 0;
  Tensor logits;
  forward_context_parallel(input_ids, comm, std::max<std::int64_t>(length, 1),
                           [&](std::int64_t, const Tensor& piece) { logits = piece; });
  return logits.defined() ? logits : Tensor::empty({input_ids.size(0), 0, vocab_size()}, DType::F32);
}

}  // namespace subq
