#include <catch2/catch.hpp>
#include <cmath>
#include <set>

#include "lm/probe.hpp"

using namespace subq;

namespace {

const LanguageModel& toy_model() {
  static const LanguageModel model = LanguageModel::random(
      R"({"model_type": "subq_hybrid", "vocab_size": 256, "hidden_size": 16, "intermediate_size": 16,
          "layer_pattern": "MA", "num_attention_heads": 2})",
      5);
  return model;
}

std::vector<std::int64_t> text_tokens(const std::string& text) { return Tokenizer::bytes().encode(text); }

// The log-likelihood of `answer` after `prompt` from one forward pass over both, no state carried.
double direct_log_likelihood(const std::vector<std::int64_t>& prompt, const std::vector<std::int64_t>& answer) {
  std::vector<std::int64_t> ids = prompt;
  ids.insert(ids.end(), answer.begin(), answer.end() - 1);
  const Tensor logits = toy_model().forward(Tensor::from_vector(ids, {1, std::int64_t(ids.size())}));
  double ll = 0;
  for (std::size_t j = 0; j < answer.size(); ++j) {
    const float* row = logits.data<float>() + (std::int64_t(prompt.size() + j) - 1) * 256;
    double max = row[0], z = 0;
    for (int v = 0; v < 256; ++v) max = std::max(max, double(row[v]));
    for (int v = 0; v < 256; ++v) z += std::exp(double(row[v]) - max);
    ll += double(row[answer[j]]) - std::log(z) - max;
  }
  return ll;
}

}  // namespace

TEST_CASE("probes: MQAR examples follow Zoology's multiquery_ar", "[lm][probe]") {
  MqarOptions o;
  o.vocab_size = 64, o.sequence_length = 64, o.num_kv_pairs = 8;
  std::mt19937_64 rng(1);
  const MqarExample e = mqar_example(o, rng);
  REQUIRE(e.inputs.size() == 64);
  REQUIRE(e.labels.size() == 64);
  std::set<std::int64_t> keys, values;
  for (int i = 0; i < 8; ++i) {  // the context: key value pairs, keys from [1, 32), values from [32, 64)
    keys.insert(e.inputs[std::size_t(2 * i)]), values.insert(e.inputs[std::size_t(2 * i + 1)]);
    CHECK(e.inputs[std::size_t(2 * i)] >= 1);
    CHECK(e.inputs[std::size_t(2 * i)] < 32);
    CHECK(e.inputs[std::size_t(2 * i + 1)] >= 32);
    CHECK(e.labels[std::size_t(2 * i)] == -100);
  }
  CHECK(keys.size() == 8);
  CHECK(values.size() == 8);
  int labelled = 0;
  for (std::size_t t = 0; t < 64; ++t) {
    CHECK(e.inputs[t] >= 0);
    CHECK(e.inputs[t] < 64);
    if (e.labels[t] == -100) continue;
    ++labelled;
    CHECK(t >= 16);
    CHECK((t - 16) % 2 == 0);  // queries at offsets 2 * gap
    // The query is a key of the context and its label that key's value.
    std::size_t pair = 0;
    while (pair < 8 && e.inputs[2 * pair] != e.inputs[t]) ++pair;
    REQUIRE(pair < 8);
    CHECK(e.labels[t] == e.inputs[2 * pair + 1]);
  }
  CHECK(labelled == 8);  // each key queried once (distinct gaps)
  // Deterministic for a seed; without random_non_queries the other query positions are 0.
  std::mt19937_64 again(1);
  CHECK(mqar_example(o, again).inputs == e.inputs);
  o.random_non_queries = false;
  std::mt19937_64 plain_rng(1);
  const MqarExample plain = mqar_example(o, plain_rng);
  for (std::size_t t = 16; t < 64; ++t) CHECK((plain.labels[t] == -100) == (plain.inputs[t] == 0));
  // Two passes repeat the pairs before the queries.
  o.num_passes = 2;
  std::mt19937_64 passes_rng(2);
  const MqarExample twice = mqar_example(o, passes_rng);
  for (std::size_t i = 0; i < 16; ++i) CHECK(twice.inputs[i] == twice.inputs[16 + i]);
  o.num_kv_pairs = 11;
  CHECK_THROWS_WITH(mqar_example(o, passes_rng),
                    Catch::Contains("11 key-value pairs (2 passes) do not fit a sequence of 64"));
}

TEST_CASE("probes: MQAR's gaps follow the power law", "[lm][probe]") {
  // One pair, space = 20 gaps: P(gap = g) = (g + 1)^(a - 1) / sum, a = 0.01 (gap 0 ~ 28 %).
  MqarOptions o;
  o.vocab_size = 64, o.sequence_length = 42, o.num_kv_pairs = 1, o.random_non_queries = false;
  constexpr int kDraws = 20000;
  std::vector<int> count(20, 0);
  std::mt19937_64 rng(3);
  for (int i = 0; i < kDraws; ++i) {
    const MqarExample e = mqar_example(o, rng);
    for (std::size_t t = 2; t < 42; ++t)
      if (e.labels[t] >= 0) ++count[(t - 2) / 2];
  }
  double sum = 0;
  for (int g = 0; g < 20; ++g) sum += std::pow(g + 1.0, o.power_a - 1);
  for (int g = 0; g < 20; ++g) {
    const double p = std::pow(g + 1.0, o.power_a - 1) / sum, sigma = std::sqrt(kDraws * p * (1 - p));
    CHECK(std::abs(count[std::size_t(g)] - kDraws * p) < 5 * sigma);
  }
}

TEST_CASE("probes: a needle prompt is the haystack, the needle at its depth, and the question", "[lm][probe]") {
  const Tokenizer bytes = Tokenizer::bytes();
  const std::vector<std::int64_t> hay = text_tokens("The sea was calm. The ship sailed on. ");
  for (const double depth : {0.0, 0.5, 1.0}) {
    std::mt19937_64 rng(7);
    const NeedlePrompt p = needle_prompt(NeedleKind::Passkey, bytes, hay, 400, depth, 5, rng);
    CHECK(p.prompt.size() == 400);
    CHECK(p.candidates.size() == 5);
    const std::string text = bytes.decode(p.prompt), answer = bytes.decode(p.candidates[p.answer]);
    REQUIRE(answer.size() == 6);  // " " and five digits
    const std::string needle = "\nThe pass key is" + answer + ". Remember it." + answer + " is the pass key.\n";
    CHECK(text.substr(std::size_t(p.needle_position), needle.size()) == needle);
    CHECK(text.ends_with("\nWhat is the pass key? The pass key is"));
    // At a sentence's end: after ". " of the haystack, or at either end.
    if (depth == 0.0) CHECK(p.needle_position == 0);
    if (depth == 1.0) CHECK(p.needle_position + std::int64_t(needle.size()) + 38 == 400);
    if (depth == 0.5) CHECK(text[std::size_t(p.needle_position) - 1] == '.');
    std::set<std::vector<std::int64_t>> distinct(p.candidates.begin(), p.candidates.end());
    CHECK(distinct.size() == 5);
  }
  std::mt19937_64 rng(7);
  const NeedlePrompt niah = needle_prompt(NeedleKind::Niah, bytes, hay, 600, 0.25, 3, rng);
  CHECK(bytes.decode(niah.prompt).find("One of the special magic numbers for ") != std::string::npos);
  CHECK(niah.candidates[niah.answer].size() == 8);  // " " and seven digits
  CHECK_THROWS_WITH(needle_prompt(NeedleKind::Passkey, bytes, hay, 50, 0.5, 5, rng),
                    Catch::Contains("a length of 50 tokens is shorter than the needle and the question"));
}

TEST_CASE("probes: a needle's score streams the prompt and branches the state for each answer", "[lm][probe]") {
  std::mt19937_64 rng(11);
  const NeedlePrompt p =
      needle_prompt(NeedleKind::Passkey, Tokenizer::bytes(), text_tokens("Call me Ishmael. "), 300, 0.5, 4, rng);
  // Streamed 64 tokens a call, the state cloned per candidate: the likelihood of one pass.
  const NeedleScore s = score_needle(toy_model(), p, 64);
  CHECK(std::abs(s.answer_log_likelihood - direct_log_likelihood(p.prompt, p.candidates[p.answer])) < 1e-3);
  // The rank counts the answers above it (within float32 rounding of the two computations).
  std::int64_t surely_above = 0, maybe_above = 0;
  for (std::size_t i = 0; i < p.candidates.size(); ++i) {
    if (i == p.answer) continue;
    const double ll = direct_log_likelihood(p.prompt, p.candidates[i]);
    surely_above += ll > s.answer_log_likelihood + 1e-3, maybe_above += ll > s.answer_log_likelihood - 1e-3;
  }
  CHECK(s.rank >= 1 + surely_above);
  CHECK(s.rank <= 1 + maybe_above);
  CHECK(score_needle(toy_model(), p, 300).rank == s.rank);
}
