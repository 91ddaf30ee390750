#include "lm/scorer.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <limits>
#include <numbers>

#include "core/check.hpp"

namespace subq {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The depth bucket of document position p: [0, 1), then edges 1, 2, 3, 4, 6, 8, 12, 16, ...
std::size_t depth_bucket(std::int64_t p) {
  if (p == 0) return 0;
  const int j = std::bit_width(std::uint64_t(p)) - 1;  // 2^j <= p < 2^(j+1)
  if (j == 0) return 1;
  return std::size_t(2 * j + (2 * p >= 3 * (std::int64_t(1) << j) ? 1 : 0));
}

std::int64_t depth_edge(std::size_t bucket) {  // the first position of a bucket
  if (bucket <= 2) return std::int64_t(bucket);
  const std::int64_t j = std::int64_t(bucket) / 2;
  return bucket % 2 == 0 ? std::int64_t(1) << j : 3 * (std::int64_t(1) << (j - 1));
}

// -log p(token) summed overall, by position in the window and by depth bucket.
struct Tally {
  double total = 0, squares = 0;
  std::int64_t count = 0, nonfinite = 0;
  std::vector<double> window_sum, window_count, depth_sum, depth_count;

  void add(double nll, std::size_t window_position, std::size_t bucket) {
    total += nll, squares += nll * nll, ++count;
    grow(window_sum, window_count, window_position + 1);
    window_sum[window_position] += nll, window_count[window_position] += 1;
    grow(depth_sum, depth_count, bucket + 1);
    depth_sum[bucket] += nll, depth_count[bucket] += 1;
  }
  /// The tally as numbers (counts are exact in doubles up to 2^53), for another process.
  std::vector<double> pack() const {
    std::vector<double> out = {total, squares, double(count), double(nonfinite), double(window_sum.size())};
    out.insert(out.end(), window_sum.begin(), window_sum.end());
    out.insert(out.end(), window_count.begin(), window_count.end());
    out.push_back(double(depth_sum.size()));
    out.insert(out.end(), depth_sum.begin(), depth_sum.end());
    out.insert(out.end(), depth_count.begin(), depth_count.end());
    return out;
  }
  /// pack()'s numbers from `at` on; `at` is left past them.
  static Tally unpack(std::span<const double> in, std::size_t& at) {
    Tally t;
    t.total = in[at];
    t.squares = in[at + 1];
    t.count = std::int64_t(in[at + 2]);
    t.nonfinite = std::int64_t(in[at + 3]);
    at += 4;
    const auto take = [&](std::vector<double>& sum, std::vector<double>& counts) {
      const auto n = std::size_t(in[at++]);
      const std::span<const double> sums = in.subspan(at, n), count_values = in.subspan(at + n, n);
      sum.assign(sums.begin(), sums.end()), counts.assign(count_values.begin(), count_values.end());
      at += 2 * n;
    };
    take(t.window_sum, t.window_count);
    take(t.depth_sum, t.depth_count);
    return t;
  }
  void merge(const Tally& o) {
    total += o.total, squares += o.squares, count += o.count, nonfinite += o.nonfinite;
    grow(window_sum, window_count, o.window_sum.size());
    for (std::size_t i = 0; i < o.window_sum.size(); ++i)
      window_sum[i] += o.window_sum[i], window_count[i] += o.window_count[i];
    grow(depth_sum, depth_count, o.depth_sum.size());
    for (std::size_t i = 0; i < o.depth_sum.size(); ++i)
      depth_sum[i] += o.depth_sum[i], depth_count[i] += o.depth_count[i];
  }

 private:
  static void grow(std::vector<double>& sum, std::vector<double>& count, std::size_t size) {
    if (sum.size() < size) sum.resize(size, 0.0), count.resize(size, 0.0);
  }
};

// One forward call's input: tokens start .. start+length-1 of the document (index -1 being the
// prefix token), the first replaced by BOS when bos_first; rows [first_row, end_row) of its logits
// are scored, row r predicting token start + r + 1.
struct Window {
  std::int64_t start, length, first_row, end_row;
  bool bos_first = false;
};

std::vector<Window> plan_windows(const Document& d, const ScoreOptions& o) {
  const std::int64_t N = std::int64_t(d.tokens.size()), W = o.window;
  std::vector<Window> plan;
  switch (o.protocol) {
    case ScoreProtocol::Windows:
      SUBQ_CHECK(N >= W,
                 "score: {} has {} tokens, fewer than one window of {} (a smaller window, or the lm-eval protocol, "
                 "which scores every token)",
                 d.name, N, W);
      for (std::int64_t s = 0; s + W <= N; s += W) plan.push_back({s, W, 0, W - 1});
      break;
    case ScoreProtocol::Sliding: {
      SUBQ_CHECK(N >= W, "score: {} has {} tokens, fewer than one window of {}", d.name, N, W);
      std::int64_t scored_until = 0;  // positions before this one are scored already
      for (std::int64_t s = 0; scored_until < N; s += o.stride) {
        const std::int64_t start = std::min(s, N - W);
        plan.push_back({start, W, std::max<std::int64_t>(1, scored_until - start) - 1, W - 1});
        scored_until = start + W;
      }
      break;
    }
    case ScoreProtocol::LmEval: {
      const std::int64_t first = std::min(W, N);
      plan.push_back({-1, first, 0, first});
      for (std::int64_t predicted = first; predicted < N;) {
        const std::int64_t n = std::min(N - predicted, W), end = predicted + n;
        plan.push_back({end - W - 1, W, W - n, W});
        predicted = end;
      }
      break;
    }
    case ScoreProtocol::Llama: {
      const std::int64_t offset = o.bos_token >= 0 ? 1 : 0;  // the BOS put before the document
      SUBQ_CHECK(N + offset >= W, "score: {} has {} tokens{}, fewer than one chunk of {}", d.name, N + offset,
                 offset ? " with its BOS" : "", W);
      for (std::int64_t c = 0; (c + 1) * W <= N + offset; ++c)
        plan.push_back({c * W - offset, W, W / 2, W - 1, offset == 1});
      break;
    }
    case ScoreProtocol::Stream: break;
  }
  return plan;
}

// A window of the plan, with the document it is of and its number there (for errors).
struct PlannedWindow {
  std::size_t document;
  std::int64_t number;
  Window window;
};

// Scores the documents' windows in packed batches of up to o.batch windows, whichever documents
// they are of, and each document under the stream protocol on its own (it carries the state).
class Scorer {
 public:
  Scorer(const LanguageModel& model, const std::vector<Document>& documents, const ScoreOptions& o)
      : model_(model),
        docs_(documents),
        o_(o),
        V_(model.vocab_size()),
        tallies_(documents.size()),
        seconds_(documents.size(), 0.0) {
    for (const Document& d : docs_) progress_.tokens += std::int64_t(d.tokens.size());
    progress_.documents = std::int64_t(docs_.size());
  }

  void run() {
    const bool parallel = o_.ranks && o_.ranks->distributed();
    if (o_.protocol == ScoreProtocol::Stream) {
      for (std::size_t d = 0; d < docs_.size() && !(parallel ? stop_together() : stopped_); ++d) {
        const auto t0 = std::chrono::steady_clock::now();
        parallel ? stream_segment(d) : stream(d);
        seconds_[d] = since(t0);
      }
    } else {
      std::vector<PlannedWindow> plan;
      for (std::size_t d = 0; d < docs_.size(); ++d) {
        std::int64_t number = 0;
        for (const Window& w : plan_windows(docs_[d], o_)) plan.push_back({d, number++, w});
      }
      // Data parallel: batch k is rank k mod P's.
      const std::size_t ranks = parallel ? std::size_t(o_.ranks->size()) : 1,
                        rank = parallel ? std::size_t(o_.ranks->rank()) : 0;
      for (std::size_t b0 = 0, k = 0; b0 < plan.size() && !stop(); b0 += std::size_t(o_.batch), ++k)
        if (k % ranks == rank) windows(std::span(plan).subspan(b0, std::min(plan.size() - b0, std::size_t(o_.batch))));
    }
    if (parallel) gather_ranks();
  }

  bool stopped() const { return stopped_; }
  /// The documents scoring has reached: all of them unless stopped.
  std::size_t documents_begun() const { return stopped_ ? begun_ : docs_.size(); }
  const Tally& tally(std::size_t d) const { return tallies_[d]; }
  double seconds(std::size_t d) const { return seconds_[d]; }

 private:
  // Whether to stop before the next forward call (and remember it).
  bool stop() {
    if (!stopped_ && o_.stop && o_.stop()) stopped_ = true;
    return stopped_;
  }

  static double since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  std::int64_t token(const Document& d, std::int64_t i) const {
    return i < 0 ? o_.prefix_token : d.tokens[std::size_t(i)];
  }

  // One packed forward call over the batch's windows; its time shared out by their tokens.
  void windows(std::span<const PlannedWindow> batch) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::int64_t> ids, lengths;
    begun_ = std::max(begun_, batch.back().document + 1);
    for (const PlannedWindow& p : batch) {
      const Document& d = docs_[p.document];
      for (std::int64_t r = 0; r < p.window.length; ++r)
        ids.push_back(r == 0 && p.window.bos_first ? o_.bos_token : token(d, p.window.start + r));
      lengths.push_back(p.window.length);
    }
    const Tensor logits = model_.forward_packed(Tensor::from_vector(ids, {std::int64_t(ids.size())}), lengths);
    std::int64_t row0 = 0;  // the window's first row in the packed logits
    for (const PlannedWindow& p : batch) {
      const Window& w = p.window;
      for (std::int64_t r = w.first_row; r < w.end_row; ++r) {
        const std::int64_t target = w.start + r + 1;
        add(p.document, logits.data<float>() + (row0 + r) * V_, token(docs_[p.document], target), p.number, r + 1,
            target);
      }
      row0 += w.length;
    }
    const double seconds = since(t0);
    for (const PlannedWindow& p : batch) seconds_[p.document] += seconds * double(p.window.length) / double(ids.size());
    const PlannedWindow& last = batch.back();
    report(last.document, last.window.start + last.window.end_row + 1);
  }

  void stream(std::size_t doc) {
    const Document& d = docs_[doc];
    const std::int64_t N = std::int64_t(d.tokens.size());
    SUBQ_CHECK(N >= 2, "score: {} has {} token(s); the stream protocol needs at least 2", d.name, N);
    ModelCache cache;
    std::vector<float> previous(static_cast<std::size_t>(V_));  // the logits that predict the next piece's first token
    begun_ = doc + 1;
    for (std::int64_t p0 = 0, piece = 0; p0 < N && !stop(); p0 += o_.window, ++piece) {
      const std::int64_t n = std::min(o_.window, N - p0);
      const std::vector<std::int64_t> ids(d.tokens.begin() + p0, d.tokens.begin() + p0 + n);
      const Tensor logits = model_.forward(Tensor::from_vector(ids, {1, n}), &cache);
      if (p0 > 0) add(doc, previous.data(), ids[0], piece, 0, p0);  // across the piece boundary
      for (std::int64_t t = 1; t < n; ++t)
        add(doc, logits.data<float>() + (t - 1) * V_, ids[std::size_t(t)], piece, t, p0 + t);
      std::copy_n(logits.data<float>() + (n - 1) * V_, V_, previous.data());
      report(doc, p0 + n);
    }
  }

  // The stream protocol context-parallel: this rank's segment of the document, [N r / P,
  // N (r + 1) / P), in pieces of `window` tokens, scored as stream() scores those positions.
  void stream_segment(std::size_t doc) {
    const Document& d = docs_[doc];
    const std::int64_t N = std::int64_t(d.tokens.size()), P = o_.ranks->size(), r = o_.ranks->rank();
    SUBQ_CHECK(N >= 2, "score: {} has {} token(s); the stream protocol needs at least 2", d.name, N);
    const std::int64_t begin = N * r / P, end = N * (r + 1) / P, W = o_.window;
    begun_ = doc + 1;
    const std::vector<std::int64_t> ids(d.tokens.begin() + begin, d.tokens.begin() + end);
    model_.forward_context_parallel(
        Tensor::from_vector(ids, {1, end - begin}), *o_.ranks, W, [&](std::int64_t first, const Tensor& logits) {
          const std::int64_t n = logits.size(1);
          for (std::int64_t t = 0; t < n; ++t) {
            const std::int64_t target = begin + first + t + 1;  // the position row t predicts
            if (target < N)
              add(doc, logits.data<float>() + t * V_, d.tokens[std::size_t(target)], target / W, target % W, target);
          }
          report(doc, N * (first + n) / std::max<std::int64_t>(end - begin, 1));
        });
  }

  // An interrupt on any rank stops every rank (before the next document), since the stream's
  // segments run together.
  bool stop_together() {
    stop();
    for (const std::vector<double>& flag : o_.ranks->all_gather(std::vector<double>{stopped_ ? 1.0 : 0.0}))
      stopped_ |= flag[0] != 0;
    return stopped_;
  }

  // Every rank's tallies and times merged (in rank order), so that each holds the whole result:
  // a document's time is its slowest rank's.
  void gather_ranks() {
    std::vector<double> mine = {double(begun_), stopped_ ? 1.0 : 0.0};
    for (std::size_t d = 0; d < docs_.size(); ++d) {
      mine.push_back(seconds_[d]);
      const std::vector<double> packed = tallies_[d].pack();
      mine.insert(mine.end(), packed.begin(), packed.end());
    }
    std::vector<Tally> merged(docs_.size());
    std::fill(seconds_.begin(), seconds_.end(), 0.0);
    for (const std::vector<double>& theirs : o_.ranks->all_gather(mine)) {
      begun_ = std::max(begun_, std::size_t(theirs[0]));
      stopped_ |= theirs[1] != 0;
      std::size_t at = 2;
      for (std::size_t d = 0; d < docs_.size(); ++d) {
        seconds_[d] = std::max(seconds_[d], theirs[at++]);
        merged[d].merge(Tally::unpack(theirs, at));
      }
    }
    tallies_ = std::move(merged);
  }

  // The logits (vocab) of document doc's window `window` predicting `target` at its position
  // `window_position`, document position `depth`.
  void add(std::size_t doc, const float* logits, std::int64_t target, std::int64_t window, std::int64_t window_position,
           std::int64_t depth) {
    double max = -std::numeric_limits<double>::infinity();
    bool finite = true;
    for (std::int64_t v = 0; v < V_; ++v) finite &= std::isfinite(logits[v]), max = std::max(max, double(logits[v]));
    Tally& tally = tallies_[doc];
    if (!finite) {
      SUBQ_CHECK(o_.allow_nonfinite,
                 "score: {}, window {}, position {}: the logits are not finite (NaN or infinite; "
                 "a weight or input that is not finite?); allow_nonfinite counts such positions instead",
                 docs_[doc].name, window, depth);
      ++tally.nonfinite;
      return;
    }
    double z = 0;
    for (std::int64_t v = 0; v < V_; ++v) z += std::exp(double(logits[v]) - max);
    const double log_z = std::log(z) + max;
    tally.add(log_z - double(logits[target]), std::size_t(window_position), depth_bucket(depth));
    if (!o_.each_position) return;
    log_probs_.resize(std::size_t(V_));
    for (std::int64_t v = 0; v < V_; ++v) log_probs_[std::size_t(v)] = double(logits[v]) - log_z;
    o_.each_position(log_probs_, target);
  }

  // Document doc scored up to its position `done`, the ones before it whole.
  void report(std::size_t doc, std::int64_t done) {
    for (; done_documents_ < doc; ++done_documents_)
      progress_.tokens_done += std::int64_t(docs_[done_documents_].tokens.size());
    if (!o_.progress) return;
    ScoreProgress p = progress_;
    p.document = std::int64_t(doc);
    p.tokens_done += std::min(done, std::int64_t(docs_[doc].tokens.size()));
    o_.progress(p);
  }

  const LanguageModel& model_;
  const std::vector<Document>& docs_;
  const ScoreOptions& o_;
  const std::int64_t V_;
  std::vector<Tally> tallies_;
  std::vector<double> seconds_;
  ScoreProgress progress_;  // tokens_done: of the documents before done_documents_
  std::size_t done_documents_ = 0;
  std::size_t begun_ = 0;  // documents scoring has reached
  bool stopped_ = false;
  std::vector<double> log_probs_;  // for each_position
};

ScoreResult summarise(const Tally& t, std::string name, std::int64_t tokens, std::int64_t bytes, std::int64_t words,
                      double seconds) {
  ScoreResult r;
  r.name = std::move(name);
  r.seconds = seconds;
  r.tokens_scored = t.count, r.nonfinite_positions = t.nonfinite;
  r.nll_sum_nats = t.total;
  r.mean_nll_nats = t.count > 0 ? t.total / double(t.count) : kNaN;
  r.perplexity = std::exp(r.mean_nll_nats);
  const double variance = std::max(0.0, t.squares / double(t.count) - r.mean_nll_nats * r.mean_nll_nats);
  r.mean_nll_error = t.count > 1 ? std::sqrt(variance / double(t.count - 1)) : 0.0;
  r.perplexity_error = r.perplexity * r.mean_nll_error;
  r.bits_per_token = r.mean_nll_nats / std::numbers::ln2;
  // The scored tokens stand for all the text's, in proportion: exact where all are scored.
  const double text_nll = r.mean_nll_nats * double(tokens);
  r.bits_per_byte = text_nll / double(bytes) / std::numbers::ln2;
  r.bits_per_byte_error = r.mean_nll_error * double(tokens) / double(bytes) / std::numbers::ln2;
  r.byte_perplexity = std::exp(text_nll / double(bytes));
  r.word_perplexity = words > 0 ? std::exp(text_nll / double(words)) : kNaN;
  r.tokens_per_second = double(t.count) / std::max(seconds, 1e-9);
  for (std::size_t p = 0; p < t.window_sum.size(); ++p)
    r.nll_by_position.push_back(t.window_count[p] > 0 ? t.window_sum[p] / t.window_count[p] : kNaN);
  for (std::size_t b = 0; b < t.depth_sum.size(); ++b)
    if (t.depth_count[b] > 0)
      r.nll_by_depth.push_back(
          {depth_edge(b), depth_edge(b + 1), std::int64_t(t.depth_count[b]), t.depth_sum[b] / t.depth_count[b]});
  return r;
}

bool is_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

}  // namespace

std::int64_t count_words(const std::string& text) {
  std::int64_t pieces = 1;
  bool in_space = false;
  for (std::size_t i = 0; i < text.size();) {
    // Decode one UTF-8 code point (invalid bytes count as themselves: never whitespace).
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    char32_t cp = n == 1 ? c : c & (0x7f >> n);
    for (std::size_t k = 1; k < n && i + k < text.size(); ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3f);
    const bool space = is_space(cp);
    if (space && !in_space) ++pieces;
    in_space = space;
    i += n;
  }
  return pieces;
}

DocumentScores score(const LanguageModel& model, const std::vector<Document>& documents, const ScoreOptions& o) {
  SUBQ_CHECK(!documents.empty(), "score: no documents");
  SUBQ_CHECK(!(o.ranks && o.ranks->distributed() && o.each_position),
             "score: each scored position's distribution is seen by one process only: not with {} ranks",
             o.ranks ? o.ranks->size() : 1);
  SUBQ_CHECK(o.window >= 2, "score: window must be >= 2 tokens, found {}", o.window);
  SUBQ_CHECK(o.batch >= 1, "score: batch must be >= 1, found {}", o.batch);
  SUBQ_CHECK(o.protocol != ScoreProtocol::Sliding || (o.stride >= 1 && o.stride <= o.window),
             "score: stride must be in [1, window = {}], found {}", o.window, o.stride);
  SUBQ_CHECK(o.protocol != ScoreProtocol::LmEval || (o.prefix_token >= 0 && o.prefix_token < model.vocab_size()),
             "score: the lm-eval protocol needs a prefix token in [0, {}) (lm-eval's BOS, else EOS), found {}",
             model.vocab_size(), o.prefix_token);
  SUBQ_CHECK(o.protocol != ScoreProtocol::Llama || o.bos_token < model.vocab_size(),
             "score: the BOS token {} is outside the vocabulary of {}", o.bos_token, model.vocab_size());
  for (const Document& d : documents) {
    SUBQ_CHECK(!d.tokens.empty(), "score: {} has no tokens", d.name);
    SUBQ_CHECK(d.bytes >= 1, "score: {}: its text is empty", d.name);
    // Every id, not only those a window reads: a bad id in a dropped tail is still a bad input.
    const std::int64_t V = model.vocab_size();
    for (std::size_t p = 0; p < d.tokens.size(); ++p)
      SUBQ_CHECK(d.tokens[p] >= 0 && d.tokens[p] < V,
                 "score: {}: token id {} at position {} is outside the vocabulary [0, {})", d.name, d.tokens[p], p, V);
  }
  const auto t0 = std::chrono::steady_clock::now();
  Scorer scorer(model, documents, o);
  scorer.run();
  DocumentScores result;
  Tally total;
  std::int64_t tokens = 0, bytes = 0, words = 0;
  bool all_words = true;
  result.stopped = scorer.stopped();
  for (std::size_t i = 0; i < scorer.documents_begun(); ++i) {
    const Document& d = documents[i];
    result.documents.push_back(
        summarise(scorer.tally(i), d.name, std::int64_t(d.tokens.size()), d.bytes, d.words, scorer.seconds(i)));
    total.merge(scorer.tally(i));
    tokens += std::int64_t(d.tokens.size()), bytes += d.bytes, words += d.words, all_words &= d.words > 0;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  result.total = summarise(total, "", tokens, bytes, all_words ? words : 0, seconds);
  return result;
}

}  // namespace subq
