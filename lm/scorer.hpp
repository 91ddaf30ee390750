#pragma once
// Perplexity of a language model on a token sequence, under one of three protocols:
//   windows  consecutive windows of `window` tokens from the start (a trailing partial window is
//            dropped), each scored alone from an empty state: positions 1 .. window-1 predicted
//   sliding  windows of `window` tokens every `stride` tokens; each scores only the tokens the
//            previous window did not (all of them for the first)
//   stream   one pass over the whole sequence carrying the model's state, `window` tokens per
//            call: every position but the first predicted (for models without attention this
//            costs the same per token at any depth)
// Log-probabilities come from a float64 log-softmax of the logits.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "language_model.hpp"

namespace subq {

enum class ScoreProtocol { Windows, Sliding, Stream };

struct ScoreOptions {
  ScoreProtocol protocol = ScoreProtocol::Windows;
  std::int64_t window = 1024;
  std::int64_t stride = 512;  // Sliding only
  std::int64_t batch = 8;     // windows per forward call (Windows and Sliding)
  /// Called after each piece of work with (done, total), e.g. for a progress bar.
  std::function<void(std::int64_t, std::int64_t)> progress;
  /// Called for each scored position, in scoring order, with the float64 log-softmax of its
  /// logits (vocab) and the token it predicts (for LogProbWriter and DivergenceTally).
  std::function<void(std::span<const double>, std::int64_t)> each_position;
};

struct ScoreResult {
  std::int64_t tokens_scored = 0;
  double mean_nll_nats = 0, perplexity = 0, bits_per_token = 0;
  /// Standard errors over the scored tokens: of the mean NLL, and of the perplexity (to first order).
  double mean_nll_error = 0, perplexity_error = 0;
  double bits_per_byte = 0;  // bits_per_token * tokens / bytes of the text (equal for byte tokens)
  double seconds = 0, tokens_per_second = 0;
  /// Mean NLL (nats) by position within the window (stream: within each piece of `window`
  /// tokens, position 0 being the token predicted across the boundary); NaN where none was.
  std::vector<double> nll_by_position;
};

/// tokens: the ids of the text; text_bytes: its length in UTF-8 bytes (for bits per byte).
/// An error when there is nothing to score (e.g. fewer tokens than one window).
ScoreResult score(const LanguageModel& model, const std::vector<std::int64_t>& tokens, std::int64_t text_bytes,
                  const ScoreOptions& options);

}  // namespace subq
