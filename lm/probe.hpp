#pragma once
// Retrieval probes: can a model find, at the end of a long prompt, what it was told somewhere in
// it? Three kinds, each deterministic for a seed:
//   passkey  (Mohtashami & Jaggi): "The pass key is 48213. Remember it. 48213 is the pass key."
//            hidden in a haystack text; the prompt ends "What is the pass key? The pass key is"
//            and the answer is " 48213" (five digits).
//   niah     (RULER's single needle): "One of the special magic numbers for <word> is: 3759218."
//            in the haystack; the prompt ends by asking for the magic number for <word>; the
//            answer is seven digits.
//   mqar     (Zoology's multi-query associative recall): key-value token pairs, then the keys
//            queried again at power-law distances; the value must follow each query.
// A needle probe of `length` tokens is the haystack's first tokens with the needle inserted at
// `depth` (0 = the start, 1 = just before the question; moved back to the end of a sentence when
// one ends within kSentenceSearch tokens), then the question: needle and question included, it
// is exactly `length` tokens. It is scored two ways: the rank of the right answer's
// log-likelihood among `candidates` answers of the same form (1 = the model prefers it), and
// whether greedy generation reproduces the answer's tokens exactly. The prompt streams through
// the model `window` tokens a call carrying its state, so a recurrent model holds constant memory
// at any length.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "language_model.hpp"
#include "tokenizer.hpp"

namespace subq {

enum class NeedleKind { Passkey, Niah };

struct NeedlePrompt {
  std::vector<std::int64_t> prompt;                   // `length` tokens, ending with the question
  std::vector<std::vector<std::int64_t>> candidates;  // answers (tokens), the right one among them
  std::size_t answer = 0;                             // the index of the right one
  std::int64_t needle_position = 0;                   // the needle's first token in the prompt
};

/// haystack: the filler's tokens (repeated as needed). candidates >= 1 (at most 90000 passkeys).
NeedlePrompt needle_prompt(NeedleKind kind, const Tokenizer& tokenizer, const std::vector<std::int64_t>& haystack,
                           std::int64_t length, double depth, std::int64_t candidates, std::mt19937_64& rng);

struct NeedleScore {
  std::int64_t rank = 0;  // of the right answer among the candidates by log-likelihood, 1 = best
  bool exact = false;     // greedy generation gave the answer's tokens
  double answer_log_likelihood = 0;
};

NeedleScore score_needle(const LanguageModel& model, const NeedlePrompt& prompt, std::int64_t window);

/// Zoology's multiquery_ar, for one example: num_kv_pairs distinct keys from [1, vocab/2), each
/// with a distinct value from [vocab/2, vocab), written as key value pairs (num_passes times);
/// then the rest of the sequence, where key i appears at offset 2 * gap_i with the gaps distinct
/// draws from [0, space) weighted power_a * (gap + 1)^(power_a - 1), space = (sequence_length -
/// context) / 2. labels[t] is the value that must follow the key at inputs[t], -100 elsewhere;
/// every other position of the query part is a uniform random token when random_non_queries.
struct MqarOptions {
  std::int64_t vocab_size = 8192, sequence_length = 64, num_kv_pairs = 8, num_passes = 1;
  double power_a = 0.01;
  bool random_non_queries = true;
};

struct MqarExample {
  std::vector<std::int64_t> inputs, labels;  // sequence_length each
};

MqarExample mqar_example(const MqarOptions& options, std::mt19937_64& rng);

/// Greedy accuracy at the labelled positions: the model's most likely next token against the
/// value (Zoology's metric). Returns the number right; the labelled positions are num_kv_pairs.
std::int64_t score_mqar(const LanguageModel& model, const MqarExample& example, std::int64_t window);

}  // namespace subq
