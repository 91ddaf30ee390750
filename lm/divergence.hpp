#pragma once
// One run of a model scored against a reference run on the same tokens, as llama.cpp's
// `perplexity --kl-divergence` does (subq ppl --save-logits / --kl-divergence): how far another
// weight format, device or implementation moves the model's next-token distributions.
//
// The reference file keeps, for each scored position in order, the target token's log-probability,
// the top_k most likely tokens' ids and log-probabilities, and the log of the probability of all
// the other tokens together. The KL divergence is then taken over top_k + 1
// classes, the top_k tokens and "the rest": exactly the divergence when the vocabulary has at most
// top_k tokens (then every token is kept and the file is exact), otherwise a lower bound, short of
// the true value by exactly p_rest * KL(p | rest || q | rest), the mass of the rest times the
// divergence of the two distributions within it (the chain rule of the divergence).
//
// File layout (little-endian): "SUBQLP01", int64 vocab, int64 k = min(top_k, vocab), int64 count;
// then count records of int64 target, float64 target log-probability, float64 log rest mass
// (-inf when k = vocab), then the k int32 ids (only when k < vocab: else every token, in id order)
// and their k float32 log-probabilities. Float32 rounds a log-probability by at most 6e-8 of it,
// which moves a divergence by some 1e-8 nats; a vocabulary of 256 takes 1 KiB per position.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "../core/atomic_file.hpp"

namespace subq {

/// Writes the reference run's distributions, one add() per scored position.
class LogProbWriter {
 public:
  LogProbWriter(const std::filesystem::path& path, std::int64_t vocab, std::int64_t top_k);
  /// The log-softmax of one position's logits (vocab) and the token it predicts.
  void add(std::span<const double> log_probs, std::int64_t target);
  /// Writes the count and puts the file at path (AtomicFile): without it no file appears.
  void finish();

 private:
  std::filesystem::path path_;
  AtomicFile file_;  // the file appears, complete, only at finish()
  std::ofstream& out_ = file_.stream();
  std::int64_t vocab_, k_, count_ = 0;
};

struct DivergenceSummary {
  std::int64_t tokens = 0;
  double mean_kld = 0, kld_error = 0;  // nats; the standard error of the mean
  /// Percentiles of the per-token divergence, nearest rank: 99.9, 99, 95, 90, 50, 10, 5, 1.
  std::vector<std::pair<double, double>> kld_percentiles;
  double mean_delta_p = 0, rms_delta_p = 0;         // the correct token's probability, this run minus the reference
  double same_top = 0;                              // fraction of positions whose most likely token is the reference's
  double ln_ppl_ratio = 0, ln_ppl_ratio_error = 0;  // ln(PPL / PPL of the reference) = mean NLL difference
};

/// Compares this run's distributions with a reference file's, position by position.
class DivergenceTally {
 public:
  /// Opens and validates the file's header and size; errors name it and what is wrong.
  explicit DivergenceTally(const std::filesystem::path& reference);
  /// The next scored position: its log-softmax (vocab) and target, which must be the reference's.
  void add(std::span<const double> log_probs, std::int64_t target);
  /// An error unless every reference position was matched.
  DivergenceSummary summary() const;

 private:
  std::string source_;
  std::ifstream in_;  // the records, read one per add()
  std::int64_t vocab_ = 0, k_ = 0, count_ = 0, next_ = 0;
  std::vector<std::int32_t> ids_;                       // the current record's top-k ids
  std::vector<float> log_probs_;                        // and their log-probabilities
  std::vector<char> in_top_;                            // vocab flags: in the current top k
  std::vector<double> kld_, delta_p_, nll_difference_;  // per position
  std::int64_t same_top_ = 0;
};

}  // namespace subq
