#pragma once
// Sampling text from a language model: the prompt runs in parallel, then each new token is one
// step from the carried state (recurrent states, attention KV caches).
#include <cstdint>
#include <functional>
#include <vector>

#include "language_model.hpp"

namespace subq {

struct SamplingOptions {
  double temperature = 1.0;  // 0: greedy (the most likely token)
  std::int64_t top_k = 0;    // > 0: sample among the k most likely tokens only
  double top_p = 1.0;        // < 1: among the smallest set of tokens holding this probability
  std::uint64_t seed = 0;
};

/// The next token from logits (vocab) float32 under the options; rng_state advances.
std::int64_t sample_token(const float* logits, std::int64_t vocab, const SamplingOptions& options,
                          std::uint64_t& rng_state);

/// Continues prompt (at least one token) by up to max_tokens tokens, stopping early after
/// stop_token when it is >= 0; on_token (may be empty) sees each token as it is produced.
std::vector<std::int64_t> generate(const LanguageModel& model, const std::vector<std::int64_t>& prompt,
                                   std::int64_t max_tokens, const SamplingOptions& options,
                                   const std::function<void(std::int64_t)>& on_token = {},
                                   std::int64_t stop_token = -1);

}  // namespace subq
