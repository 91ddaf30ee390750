#include "lm/probe.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

#include "core/check.hpp"

namespace subq {

namespace {

// How far back the needle may move to land after the end of a sentence: a few lines of prose.
constexpr std::int64_t kSentenceSearch = 256;

// RULER draws its needle keys from a word list; these stand in, one per probe at random.
constexpr const char* kNeedleWords[] = {"amber",  "harbor", "lantern", "meadow", "quartz", "saffron", "tundra",
                                        "violet", "walnut", "zephyr",  "copper", "falcon", "glacier", "juniper",
                                        "marble", "nectar", "orchid",  "pepper", "ribbon", "silver"};

std::vector<std::int64_t> concat(std::initializer_list<const std::vector<std::int64_t>*> parts) {
  std::vector<std::int64_t> out;
  for (const auto* p : parts) out.insert(out.end(), p->begin(), p->end());
  return out;
}

// The log-softmax of one row of logits at the prompt's `position`; non-finite logits are an error.
std::vector<double> log_softmax(const float* logits, std::int64_t vocab, std::int64_t position) {
  double max = -std::numeric_limits<double>::infinity();
  for (std::int64_t v = 0; v < vocab; ++v) {
    SUBQ_CHECK(std::isfinite(logits[v]), "probe: the logits after position {} are not finite (NaN or infinite)",
               position);
    max = std::max(max, double(logits[v]));
  }
  double z = 0;
  for (std::int64_t v = 0; v < vocab; ++v) z += std::exp(double(logits[v]) - max);
  const double log_z = std::log(z) + max;
  std::vector<double> out(static_cast<std::size_t>(vocab));
  for (std::int64_t v = 0; v < vocab; ++v) out[std::size_t(v)] = double(logits[v]) - log_z;
  return out;
}

std::int64_t argmax(const float* logits, std::int64_t vocab, std::int64_t position) {
  const std::vector<double> lp = log_softmax(logits, vocab, position);  // checks finiteness
  return std::int64_t(std::max_element(lp.begin(), lp.end()) - lp.begin());
}

// The prompt through the model `window` tokens a call: the state after it and its last logits.
Tensor stream_prompt(const LanguageModel& model, const std::vector<std::int64_t>& prompt, std::int64_t window,
                     ModelCache& cache) {
  Tensor last;
  for (std::size_t p0 = 0; p0 < prompt.size(); p0 += std::size_t(window)) {
    const std::size_t n = std::min(prompt.size() - p0, std::size_t(window));
    const std::vector<std::int64_t> piece(prompt.begin() + std::ptrdiff_t(p0), prompt.begin() + std::ptrdiff_t(p0 + n));
    last = model.prefill(Tensor::from_vector(piece, {1, std::int64_t(n)}), cache);
  }
  return last;
}

// The answer's log-likelihood after the prompt: its first token from the prompt's last logits,
// the rest from a branch of the prompt's state.
double answer_log_likelihood(const LanguageModel& model, const ModelCache& cache, const Tensor& last,
                             const std::vector<std::int64_t>& answer) {
  const std::int64_t V = model.vocab_size(), at = cache.position;
  double ll = log_softmax(last.data<float>(), V, at - 1)[std::size_t(answer[0])];
  if (answer.size() == 1) return ll;
  ModelCache branch = cache.clone();
  const std::vector<std::int64_t> head(answer.begin(), answer.end() - 1);
  const Tensor logits = model.forward(Tensor::from_vector(head, {1, std::int64_t(head.size())}), &branch);
  for (std::size_t j = 1; j < answer.size(); ++j)
    ll += log_softmax(logits.data<float>() + std::int64_t(j - 1) * V, V,
                      at + std::int64_t(j) - 1)[std::size_t(answer[j])];
  return ll;
}

// Greedy generation of n tokens from the prompt's state.
std::vector<std::int64_t> greedy(const LanguageModel& model, const ModelCache& cache, const Tensor& last,
                                 std::size_t n) {
  const std::int64_t V = model.vocab_size();
  ModelCache branch = cache.clone();
  std::vector<std::int64_t> out = {argmax(last.data<float>(), V, cache.position - 1)};
  while (out.size() < n) {
    const Tensor logits = model.step(Tensor::from_vector(std::vector<std::int64_t>{out.back()}, {1}), branch);
    out.push_back(argmax(logits.data<float>(), V, branch.position - 1));
  }
  return out;
}

// Distinct numbers of `digits` digits, `count` of them, `answer` among them at a random place.
std::vector<std::int64_t> candidate_numbers(std::int64_t answer, int digits, std::int64_t count, std::mt19937_64& rng) {
  const std::int64_t lo = std::int64_t(std::pow(10, digits - 1)), hi = 10 * lo - 1;
  SUBQ_CHECK(count >= 1 && count <= hi - lo + 1, "probe: {} candidates: expected 1 to {}", count, hi - lo + 1);
  std::set<std::int64_t> seen = {answer};
  std::vector<std::int64_t> numbers = {answer};
  std::uniform_int_distribution<std::int64_t> draw(lo, hi);
  while (std::int64_t(numbers.size()) < count)
    if (const std::int64_t n = draw(rng); seen.insert(n).second) numbers.push_back(n);
  std::swap(numbers[0], numbers[std::uniform_int_distribution<std::size_t>(0, numbers.size() - 1)(rng)]);
  return numbers;
}

// The needle's place: round(depth * n), moved back to just after a sentence's end when one is near.
std::int64_t needle_cut(const Tokenizer& tokenizer, const std::vector<std::int64_t>& hay, double depth) {
  const auto n = std::int64_t(hay.size());
  const std::int64_t cut = std::llround(depth * double(n));
  for (std::int64_t t = cut; t >= std::max<std::int64_t>(0, cut - kSentenceSearch); --t) {
    if (t == 0 || t == n) return t;
    const std::string text = tokenizer.decode({hay[std::size_t(t - 1)]});
    if (!text.empty() && (text.back() == '.' || text.back() == '\n' || text.back() == '!' || text.back() == '?'))
      return t;
  }
  return cut;
}

}  // namespace

NeedlePrompt needle_prompt(NeedleKind kind, const Tokenizer& tokenizer, const std::vector<std::int64_t>& haystack,
                           std::int64_t length, double depth, std::int64_t candidates, std::mt19937_64& rng) {
  SUBQ_CHECK(!haystack.empty(), "probe: the haystack has no tokens");
  SUBQ_CHECK(depth >= 0 && depth <= 1, "probe: depth {}: expected 0 to 1", depth);
  const int digits = kind == NeedleKind::Passkey ? 5 : 7;
  const std::int64_t lo = std::int64_t(std::pow(10, digits - 1));
  const std::int64_t number = std::uniform_int_distribution<std::int64_t>(lo, 10 * lo - 1)(rng);
  std::string needle, question;
  if (kind == NeedleKind::Passkey) {
    needle = fmt::format("\nThe pass key is {0}. Remember it. {0} is the pass key.\n", number);
    question = "\nWhat is the pass key? The pass key is";
  } else {
    const char* word = kNeedleWords[std::uniform_int_distribution<std::size_t>(0, std::size(kNeedleWords) - 1)(rng)];
    needle = fmt::format("\nOne of the special magic numbers for {} is: {}.\n", word, number);
    question = fmt::format(
        "\nWhat is the special magic number for {0} mentioned in the provided text? The special magic number for {0} "
        "mentioned in the provided text is",
        word);
  }
  const std::vector<std::int64_t> needle_ids = tokenizer.encode(needle), question_ids = tokenizer.encode(question);
  const std::int64_t hay_n = length - std::int64_t(needle_ids.size() + question_ids.size());
  SUBQ_CHECK(hay_n >= 0, "probe: a length of {} tokens is shorter than the needle and the question ({} tokens)", length,
             needle_ids.size() + question_ids.size());
  std::vector<std::int64_t> hay(static_cast<std::size_t>(hay_n));
  for (std::size_t i = 0; i < hay.size(); ++i) hay[i] = haystack[i % haystack.size()];
  const std::int64_t cut = needle_cut(tokenizer, hay, depth);
  const std::vector<std::int64_t> before(hay.begin(), hay.begin() + cut), after(hay.begin() + cut, hay.end());
  NeedlePrompt p;
  p.prompt = concat({&before, &needle_ids, &after, &question_ids});
  p.needle_position = cut;
  const std::vector<std::int64_t> numbers = candidate_numbers(number, digits, candidates, rng);
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    p.candidates.push_back(tokenizer.encode(fmt::format(" {}", numbers[i])));
    if (numbers[i] == number) p.answer = i;
  }
  return p;
}

NeedleScore score_needle(const LanguageModel& model, const NeedlePrompt& p, std::int64_t window) {
  SUBQ_CHECK(window >= 1, "probe: window must be >= 1, found {}", window);
  SUBQ_CHECK(!p.prompt.empty() && p.answer < p.candidates.size(), "probe: an empty prompt or no right answer");
  ModelCache cache;
  const Tensor last = stream_prompt(model, p.prompt, window, cache);
  NeedleScore s;
  s.answer_log_likelihood = answer_log_likelihood(model, cache, last, p.candidates[p.answer]);
  s.rank = 1;
  for (std::size_t i = 0; i < p.candidates.size(); ++i)
    if (i != p.answer && answer_log_likelihood(model, cache, last, p.candidates[i]) > s.answer_log_likelihood) ++s.rank;
  const std::vector<std::int64_t>& answer = p.candidates[p.answer];
  s.exact = greedy(model, cache, last, answer.size()) == answer;
  return s;
}

MqarExample mqar_example(const MqarOptions& o, std::mt19937_64& rng) {
  const std::int64_t V = o.vocab_size, L = o.sequence_length, kv = o.num_kv_pairs;
  const std::int64_t context = 2 * kv * o.num_passes;
  SUBQ_CHECK(L % 2 == 0, "mqar: sequence_length must be even, found {}", L);
  SUBQ_CHECK(
      kv >= 1 && o.num_passes >= 1 && context + 2 * kv <= L,
      "mqar: {} key-value pairs ({} passes) do not fit a sequence of {}: need 2 * pairs * (passes + 1) <= length", kv,
      o.num_passes, L);
  SUBQ_CHECK(V / 2 - 1 >= kv, "mqar: a vocabulary of {} has {} keys, fewer than {} pairs", V, V / 2 - 1, kv);
  SUBQ_CHECK(o.power_a > 0, "mqar: power_a must be > 0, found {}", o.power_a);
  // Distinct draws, uniform: the first k of a shuffle of [lo, hi).
  const auto distinct = [&](std::int64_t lo, std::int64_t hi, std::int64_t k) {
    std::vector<std::int64_t> pool(static_cast<std::size_t>(hi - lo));
    std::iota(pool.begin(), pool.end(), lo);
    for (std::int64_t i = 0; i < k; ++i)
      std::swap(pool[std::size_t(i)],
                pool[std::uniform_int_distribution<std::size_t>(std::size_t(i), pool.size() - 1)(rng)]);
    return std::vector<std::int64_t>(pool.begin(), pool.begin() + k);
  };
  const std::vector<std::int64_t> keys = distinct(1, V / 2, kv), values = distinct(V / 2, V, kv);
  // The gaps: weighted draws without replacement, each from the weights of those not drawn yet.
  const std::int64_t space = (L - context) / 2;
  std::vector<double> weights(static_cast<std::size_t>(space));
  for (std::int64_t g = 0; g < space; ++g) weights[std::size_t(g)] = std::pow(double(g + 1), o.power_a - 1);
  std::vector<std::int64_t> gaps;
  for (std::int64_t i = 0; i < kv; ++i) {
    const std::int64_t g = std::int64_t(std::discrete_distribution<std::size_t>(weights.begin(), weights.end())(rng));
    gaps.push_back(g);
    weights[std::size_t(g)] = 0;
  }
  MqarExample e{std::vector<std::int64_t>(std::size_t(L), 0), std::vector<std::int64_t>(std::size_t(L), -100)};
  for (std::int64_t pass = 0; pass < o.num_passes; ++pass)
    for (std::int64_t i = 0; i < kv; ++i) {
      e.inputs[std::size_t(pass * 2 * kv + 2 * i)] = keys[std::size_t(i)];
      e.inputs[std::size_t(pass * 2 * kv + 2 * i + 1)] = values[std::size_t(i)];
    }
  for (std::int64_t i = 0; i < kv; ++i) {
    const auto at = std::size_t(context + 2 * gaps[std::size_t(i)]);
    e.inputs[at] = keys[std::size_t(i)], e.labels[at] = values[std::size_t(i)];
  }
  if (o.random_non_queries) {
    std::uniform_int_distribution<std::int64_t> token(0, V - 1);
    for (std::int64_t& t : e.inputs)
      if (t == 0) t = token(rng);
  }
  return e;
}

std::int64_t score_mqar(const LanguageModel& model, const MqarExample& e, std::int64_t window) {
  SUBQ_CHECK(window >= 1, "probe: window must be >= 1, found {}", window);
  const std::int64_t V = model.vocab_size(), L = std::int64_t(e.inputs.size());
  ModelCache cache;
  std::int64_t right = 0;
  for (std::int64_t p0 = 0; p0 < L; p0 += window) {
    const std::int64_t n = std::min(window, L - p0);
    const std::vector<std::int64_t> piece(e.inputs.begin() + p0, e.inputs.begin() + p0 + n);
    const Tensor logits = model.forward(Tensor::from_vector(piece, {1, n}), &cache);
    for (std::int64_t t = 0; t < n; ++t)
      if (const std::int64_t label = e.labels[std::size_t(p0 + t)]; label >= 0)
        right += argmax(logits.data<float>() + t * V, V, p0 + t) == label ? 1 : 0;
  }
  return right;
}

}  // namespace subq
