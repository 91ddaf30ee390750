#include "lm/scorer.hpp"

#include <chrono>
#include <cmath>
#include <limits>
#include <numbers>

#include "core/check.hpp"

namespace subq {

namespace {

// Accumulates -log p(token) by position.
struct Tally {
  double total = 0, squares = 0;
  std::int64_t count = 0;
  std::vector<double> sum, n;
  const std::function<void(std::span<const double>, std::int64_t)>& each_position;
  std::vector<double> log_probs;  // for each_position

  Tally(std::int64_t positions, const ScoreOptions& o)
      : sum(static_cast<std::size_t>(positions), 0.0),
        n(static_cast<std::size_t>(positions), 0.0),
        each_position(o.each_position) {}

  // logits (vocab) predicting `target`, at window position `position`.
  void add(const float* logits, std::int64_t vocab, std::int64_t target, std::int64_t position) {
    double max = -std::numeric_limits<double>::infinity(), z = 0;
    for (std::int64_t v = 0; v < vocab; ++v) max = std::max(max, double(logits[v]));
    for (std::int64_t v = 0; v < vocab; ++v) z += std::exp(double(logits[v]) - max);
    const double log_z = std::log(z) + max, nll = log_z - double(logits[target]);
    total += nll, squares += nll * nll, ++count;
    sum[std::size_t(position)] += nll, n[std::size_t(position)] += 1;
    if (!each_position) return;
    log_probs.resize(std::size_t(vocab));
    for (std::int64_t v = 0; v < vocab; ++v) log_probs[std::size_t(v)] = double(logits[v]) - log_z;
    each_position(log_probs, target);
  }
};

// Windows starting at `starts` (each `window` long), scoring positions >= first_scored[i].
void score_windows(const LanguageModel& model, const std::vector<std::int64_t>& tokens, const std::vector<std::int64_t>& starts,
                   const std::vector<std::int64_t>& first_scored, const ScoreOptions& o, Tally& tally) {
  const std::int64_t W = o.window, V = model.vocab_size();
  for (std::size_t b0 = 0; b0 < starts.size(); b0 += std::size_t(o.batch)) {
    const std::size_t batch = std::min(starts.size() - b0, std::size_t(o.batch));
    std::vector<std::int64_t> ids;
    for (std::size_t i = 0; i < batch; ++i) ids.insert(ids.end(), tokens.begin() + starts[b0 + i], tokens.begin() + starts[b0 + i] + W);
    const Tensor logits = model.forward(Tensor::from_vector(ids, {std::int64_t(batch), W}));
    for (std::size_t i = 0; i < batch; ++i)
      for (std::int64_t t = std::max<std::int64_t>(1, first_scored[b0 + i]); t < W; ++t)
        tally.add(logits.data<float>() + ((std::int64_t(i) * W) + t - 1) * V, V, ids[i * std::size_t(W) + std::size_t(t)], t);
    if (o.progress) o.progress(std::int64_t(b0 + batch), std::int64_t(starts.size()));
  }
}

void score_stream(const LanguageModel& model, const std::vector<std::int64_t>& tokens, const ScoreOptions& o, Tally& tally) {
  const std::int64_t N = std::int64_t(tokens.size()), V = model.vocab_size();
  ModelCache cache;
  std::vector<float> previous(static_cast<std::size_t>(V));  // the logits that predict the next piece's first token
  for (std::int64_t p0 = 0; p0 < N; p0 += o.window) {
    const std::int64_t n = std::min(o.window, N - p0);
    const std::vector<std::int64_t> ids(tokens.begin() + p0, tokens.begin() + p0 + n);
    const Tensor logits = model.forward(Tensor::from_vector(ids, {1, n}), &cache);
    if (p0 > 0) tally.add(previous.data(), V, ids[0], 0);  // across the piece boundary
    for (std::int64_t t = 1; t < n; ++t) tally.add(logits.data<float>() + (t - 1) * V, V, ids[std::size_t(t)], t);
    std::copy_n(logits.data<float>() + (n - 1) * V, V, previous.data());
    if (o.progress) o.progress(p0 + n, N);
  }
}

}  // namespace

ScoreResult score(const LanguageModel& model, const std::vector<std::int64_t>& tokens, std::int64_t text_bytes,
                  const ScoreOptions& o) {
  SUBQ_CHECK(o.window >= 2, "score: window must be >= 2 tokens, found {}", o.window);
  SUBQ_CHECK(o.batch >= 1, "score: batch must be >= 1, found {}", o.batch);
  SUBQ_CHECK(text_bytes >= 1, "score: the text is empty");
  const std::int64_t N = std::int64_t(tokens.size());
  Tally tally(o.window, o);
  const auto t0 = std::chrono::steady_clock::now();
  if (o.protocol == ScoreProtocol::Stream) {
    SUBQ_CHECK(N >= 2, "score: the text has {} token(s); at least 2 are needed", N);
    score_stream(model, tokens, o, tally);
  } else {
    SUBQ_CHECK(N >= o.window, "score: the window of {} tokens is longer than the text ({} tokens)", o.window, N);
    std::vector<std::int64_t> starts, first;  // each window's start and first position to score
    const std::int64_t step = o.protocol == ScoreProtocol::Windows ? o.window : o.stride;
    SUBQ_CHECK(step >= 1 && step <= o.window, "score: stride must be in [1, window], found {}", step);
    std::int64_t scored_until = 0;  // positions before this one are scored already
    for (std::int64_t s = 0; s + o.window <= N || (o.protocol == ScoreProtocol::Sliding && scored_until < N); s += step) {
      const std::int64_t start = std::min(s, N - o.window);
      starts.push_back(start);
      first.push_back(std::max<std::int64_t>(1, scored_until - start));
      scored_until = start + o.window;
    }
    score_windows(model, tokens, starts, first, o, tally);
  }
  ScoreResult r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.tokens_scored = tally.count;
  r.mean_nll_nats = tally.total / double(tally.count);
  r.perplexity = std::exp(r.mean_nll_nats);
  const double variance = std::max(0.0, tally.squares / double(tally.count) - r.mean_nll_nats * r.mean_nll_nats);
  r.mean_nll_error = tally.count > 1 ? std::sqrt(variance / double(tally.count - 1)) : 0.0;
  r.perplexity_error = r.perplexity * r.mean_nll_error;
  r.bits_per_token = r.mean_nll_nats / std::numbers::ln2;
  // Over the bytes behind the scored tokens, in proportion: exact for byte tokens.
  r.bits_per_byte = r.bits_per_token * double(N) / double(text_bytes);
  r.tokens_per_second = double(tally.count) / std::max(r.seconds, 1e-9);
  for (std::size_t p = 0; p < tally.sum.size(); ++p)
    r.nll_by_position.push_back(tally.n[p] > 0 ? tally.sum[p] / tally.n[p] : std::numeric_limits<double>::quiet_NaN());
  return r;
}

}  // namespace subq
