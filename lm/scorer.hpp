#pragma once
// Perplexity of a language model on documents, each scored on its own from an empty state, under
// one of five protocols (N tokens in the document, W = `window`):
//   windows  consecutive windows of W tokens from the start (a trailing partial window is
//            dropped), each from an empty state: positions 1 .. W-1 of each predicted
//   sliding  windows of W tokens every `stride` tokens; each scores only the tokens the previous
//            window did not (all of them for the first); the last window ends at the last token
//   stream   one pass over the whole document carrying the model's state, W tokens per call:
//            every position but the first predicted (for models without attention this costs the
//            same per token at any depth)
//   lm-eval  lm-eval's loglikelihood_rolling (get_rolling_token_windows with context_len 1, then
//            make_disjoint_window): every token scored once. The first window is the prefix token
//            then tokens 0 .. W-2, predicting tokens 0 .. W-1; each next window predicts the next
//            W tokens (fewer at the end) from the W tokens before each, so the last partial
//            window reaches back to a full W tokens of input. Each window from an empty state.
//   llama    llama.cpp's llama-perplexity: the document preceded by BOS when the vocabulary has
//            one, cut in floor(N / W) chunks of W tokens (the rest dropped), each from an empty
//            state with its first token replaced by BOS (when there is one); of each chunk only
//            positions W/2 + 1 .. W-1 are scored, each predicted from at least W/2 tokens.
// Log-probabilities come from a float64 log-softmax of the logits. A logit that is NaN or
// infinite is an error naming the document, window and position, unless allow_nonfinite.
// Aggregates are token-weighted over the documents, as lm-eval's are (ScoreResult says how).
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "../dist/communicator.hpp"
#include "language_model.hpp"

namespace subq {

enum class ScoreProtocol { Windows, Sliding, Stream, LmEval, Llama };

/// One text to score: its tokens and what its raw text measures, for the per-word and per-byte
/// figures.
struct Document {
  std::string name;                  // in errors and the per-document results
  std::vector<std::int64_t> tokens;  // its ids, without a prefix or BOS
  std::int64_t bytes = 0;            // of its UTF-8 text (the token count for pre-tokenised ids)
  std::int64_t words = 0;            // count_words of its text; 0 when unknown (no word perplexity)
};

/// lm-eval's word count: the pieces of `text` split at each run of whitespace (Python's
/// re.split(r"\s+", text), whose \s is str.isspace()), so a leading or trailing run adds an
/// empty piece. Whitespace here: ASCII's, U+001C..U+001F, U+0085, U+00A0, U+1680,
/// U+2000..U+200A, U+2028, U+2029, U+202F, U+205F and U+3000.
std::int64_t count_words(const std::string& text);

struct ScoreProgress {
  std::int64_t document = 0, documents = 0;  // the document being scored (0-based) and how many
  std::int64_t tokens_done = 0, tokens = 0;  // tokens of all the documents
};

struct ScoreOptions {
  ScoreProtocol protocol = ScoreProtocol::Windows;
  std::int64_t window = 1024;
  std::int64_t stride = 512;  // Sliding only
  /// Windows per forward call (all but Stream), whichever documents they are of: packed end to
  /// end (LanguageModel::forward_packed), so windows of different lengths share a call and no
  /// padding is computed on the position-wise layers.
  std::int64_t batch = 8;
  /// LmEval: the token before each document (lm-eval's prefix_token_id: the tokenizer's BOS,
  /// else its EOS). Required by LmEval.
  std::int64_t prefix_token = -1;
  /// Llama: the vocabulary's BOS; -1 when it has none (then no token is put in or replaced).
  std::int64_t bos_token = -1;
  /// Score on past a non-finite logit, counting the position in nonfinite_positions instead of
  /// its NLL.
  bool allow_nonfinite = false;
  /// Called after each piece of work, e.g. for a progress bar.
  std::function<void(const ScoreProgress&)> progress;
  /// Asked before each forward call: when it returns true, scoring stops there and the result
  /// holds what was scored so far (DocumentScores::stopped), e.g. on an interrupt.
  std::function<bool()> stop;
  /// Called for each scored position, in scoring order, with the float64 log-softmax of its
  /// logits (vocab) and the token it predicts (for LogProbWriter and DivergenceTally). One
  /// process only: not with ranks.
  std::function<void(std::span<const double>, std::int64_t)> each_position;
  /// Several processes scoring together, when it has more than one rank: every rank calls
  /// score() with the same model, documents and options, and every rank gets the whole result.
  /// Stream: each document is cut into one contiguous segment per rank, run context-parallel
  /// (LanguageModel::forward_context_parallel), and an interrupt takes effect between documents;
  /// the other protocols: the forward calls are dealt out to the ranks in turn (data parallel).
  /// The figures equal one process's but for the order of the sums.
  dist::Communicator* ranks = nullptr;
};

/// Mean NLL over the positions [begin, end) of the documents (0 being each one's first token).
struct DepthBucket {
  std::int64_t begin = 0, end = 0, count = 0;
  double mean_nll_nats = 0;
};

struct ScoreResult {
  std::string name;  // the document's; empty for the total
  std::int64_t tokens_scored = 0, nonfinite_positions = 0;
  double nll_sum_nats = 0, mean_nll_nats = 0, perplexity = 0, bits_per_token = 0;
  /// Standard errors, treating the scored tokens as independent (as llama.cpp does): of the mean
  /// NLL, of the perplexity and of bits per byte (to first order).
  double mean_nll_error = 0, perplexity_error = 0, bits_per_byte_error = 0;
  /// Per byte and per word of the texts: the mean NLL per scored token times the texts' tokens,
  /// over their bytes (or words). Where every token is scored (lm-eval) this is lm-eval's summed
  /// NLL over bytes; where some are not (windows, llama), the scored ones stand for the rest
  /// (words: NaN when unknown).
  double bits_per_byte = 0, byte_perplexity = 0, word_perplexity = 0;
  double seconds = 0, tokens_per_second = 0;
  /// Mean NLL (nats) by position within the window (stream: within each piece of `window`
  /// tokens, position 0 being the token predicted across the boundary); NaN where none was.
  std::vector<double> nll_by_position;
  /// Mean NLL by position in the document, in log-spaced buckets up to the last scored position:
  /// [0, 1) (lm-eval's first token), then edges 1, 2, 3, 4, 6, 8, 12, 16, ... (two per octave);
  /// empty buckets are left out.
  std::vector<DepthBucket> nll_by_depth;
};

struct DocumentScores {
  ScoreResult total;                   // all the documents' positions together
  std::vector<ScoreResult> documents;  // in the order given; when stopped, those begun
  bool stopped = false;                // ScoreOptions::stop ended the scoring early
};

/// Scores each document on its own; an error, before any scoring, when a document has nothing
/// to score under the protocol (e.g. fewer tokens than one window) or an id outside the
/// vocabulary anywhere in it (with its position), naming the document.
DocumentScores score(const LanguageModel& model, const std::vector<Document>& documents, const ScoreOptions& options);

}  // namespace subq
