#include "lm/generator.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/check.hpp"

namespace subq {

std::int64_t sample_token(const float* logits, std::int64_t vocab, const SamplingOptions& o, std::uint64_t& rng_state) {
  SUBQ_CHECK(o.temperature >= 0 && o.top_k >= 0 && o.top_p > 0 && o.top_p <= 1,
             "sample: temperature >= 0, top_k >= 0 and top_p in (0, 1] are required");
  for (std::int64_t i = 0; i < vocab; ++i)
    SUBQ_CHECK(!std::isnan(logits[i]), "sample: the logit of token {} is NaN", i);
  if (o.temperature == 0) return std::max_element(logits, logits + vocab) - logits;
  // Most likely first, ties by id (a strict order: the stable sort by logit that it replaces, at a
  // fraction of the cost; only the top_k need ordering when there is a top_k).
  struct Ranked {
    float logit;
    std::int64_t id;
  };
  std::vector<Ranked> ranked(static_cast<std::size_t>(vocab));
  for (std::int64_t i = 0; i < vocab; ++i) ranked[std::size_t(i)] = {logits[i], i};
  const auto before = [](const Ranked& a, const Ranked& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  const std::int64_t kept_by_k = o.top_k > 0 ? std::min(o.top_k, vocab) : vocab;
  if (kept_by_k < vocab)
    std::partial_sort(ranked.begin(), ranked.begin() + kept_by_k, ranked.end(), before);
  else
    std::sort(ranked.begin(), ranked.end(), before);
  std::vector<std::int64_t> order(static_cast<std::size_t>(kept_by_k));
  for (std::int64_t i = 0; i < kept_by_k; ++i) order[std::size_t(i)] = ranked[std::size_t(i)].id;
  std::vector<double> p(static_cast<std::size_t>(kept_by_k));
  double total = 0;
  for (std::int64_t i = 0; i < kept_by_k; ++i) total += p[i] = std::exp((double(logits[order[i]]) - logits[order[0]]) / o.temperature);
  // Nucleus: the most likely tokens until their share reaches top_p.
  std::int64_t kept = 0;
  for (double share = 0; kept < kept_by_k && (kept == 0 || share < o.top_p); ++kept) share += p[kept] / total;
  std::mt19937_64 rng(rng_state);
  const double u = std::uniform_real_distribution<double>(0, std::accumulate(p.begin(), p.begin() + kept, 0.0))(rng);
  rng_state = rng();
  double acc = 0;
  for (std::int64_t i = 0; i < kept; ++i)
    if ((acc += p[i]) >= u) return order[i];
  return order[kept - 1];
}

std::vector<std::int64_t> generate(const LanguageModel& model, const std::vector<std::int64_t>& prompt,
                                   std::int64_t max_tokens, const SamplingOptions& options,
                                   const std::function<void(std::int64_t)>& on_token, std::int64_t stop_token) {
  SUBQ_CHECK(!prompt.empty(), "generate: the prompt is empty");
  SUBQ_CHECK(max_tokens >= 0, "generate: max_tokens must be >= 0, found {}", max_tokens);
  const std::int64_t V = model.vocab_size();
  ModelCache cache;
  Tensor logits = model.prefill(Tensor::from_vector(prompt, {1, std::int64_t(prompt.size())}), cache).contiguous();
  const float* last = logits.data<float>();
  std::uint64_t rng_state = options.seed;
  std::vector<std::int64_t> out;
  while (std::int64_t(out.size()) < max_tokens) {
    const std::int64_t token = sample_token(last, V, options, rng_state);
    out.push_back(token);
    if (on_token) on_token(token);
    if (token == stop_token || std::int64_t(out.size()) == max_tokens) break;
    logits = model.step(Tensor::from_vector(std::vector<std::int64_t>{token}, {1}), cache);
    last = logits.data<float>();
  }
  return out;
}

}  // namespace subq
