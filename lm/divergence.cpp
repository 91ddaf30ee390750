#include "lm/divergence.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "core/check.hpp"

namespace subq {

namespace {

constexpr char kMagic[8] = {'S', 'U', 'B', 'Q', 'L', 'P', '0', '1'};
constexpr std::size_t kHeaderBytes = 32;

std::size_t record_bytes(std::int64_t k, std::int64_t vocab) { return 24 + (k < vocab ? 8 : 4) * std::size_t(k); }

template <class T>
void put(std::ofstream& out, T value) {
  out.write(reinterpret_cast<const char*>(&value), sizeof value);
}

template <class T>
T get(std::ifstream& in) {
  T value{};
  in.read(reinterpret_cast<char*>(&value), sizeof value);
  return value;
}

// Mean and standard error of the mean.
std::pair<double, double> mean_and_error(const std::vector<double>& x) {
  const double n = double(x.size()), mean = std::accumulate(x.begin(), x.end(), 0.0) / n;
  double squares = 0;
  for (const double v : x) squares += (v - mean) * (v - mean);
  return {mean, x.size() > 1 ? std::sqrt(squares / (n - 1) / n) : 0.0};
}

}  // namespace

LogProbWriter::LogProbWriter(const std::filesystem::path& path, std::int64_t vocab, std::int64_t top_k)
    : path_(path), file_(path), vocab_(vocab), k_(std::min(top_k, vocab)) {
  SUBQ_CHECK(top_k >= 1, "{}: top_k must be >= 1, found {}", path.string(), top_k);
  out_.write(kMagic, 8);
  put(out_, vocab_), put(out_, k_), put(out_, std::int64_t(0));
}

void LogProbWriter::add(std::span<const double> log_probs, std::int64_t target) {
  SUBQ_CHECK(std::int64_t(log_probs.size()) == vocab_ && target >= 0 && target < vocab_,
             "{}: a position of {} log-probabilities predicting {}, expected a vocabulary of {}", path_.string(),
             log_probs.size(), target, vocab_);
  std::vector<std::int32_t> order(static_cast<std::size_t>(vocab_));
  std::iota(order.begin(), order.end(), 0);
  if (k_ < vocab_)
    std::partial_sort(order.begin(), order.begin() + k_, order.end(), [&](std::int32_t a, std::int32_t b) {
      return log_probs[std::size_t(a)] > log_probs[std::size_t(b)] ||
             (log_probs[std::size_t(a)] == log_probs[std::size_t(b)] && a < b);
    });
  double rest = 0;  // summed from the smallest up
  for (std::int64_t i = vocab_; i-- > k_;) rest += std::exp(log_probs[std::size_t(order[std::size_t(i)])]);
  put(out_, target), put(out_, log_probs[std::size_t(target)]),
      put(out_, k_ == vocab_ ? -std::numeric_limits<double>::infinity() : std::log(rest));
  if (k_ < vocab_)
    for (std::int64_t i = 0; i < k_; ++i) put(out_, order[std::size_t(i)]);
  for (std::int64_t i = 0; i < k_; ++i) put(out_, float(log_probs[std::size_t(order[std::size_t(i)])]));
  ++count_;
}

void LogProbWriter::finish() {
  out_.seekp(24);
  put(out_, count_);
  file_.commit();
}

DivergenceTally::DivergenceTally(const std::filesystem::path& reference)
    : source_(reference.string()), in_(reference, std::ios::binary) {
  SUBQ_CHECK(in_.good(), "{}: cannot open", source_);
  char magic[8] = {};
  in_.read(magic, 8);
  SUBQ_CHECK(in_.good() && std::memcmp(magic, kMagic, 8) == 0,
             "{}: not a log-probability file of subq ppl --save-logits (bad magic)", source_);
  vocab_ = get<std::int64_t>(in_), k_ = get<std::int64_t>(in_), count_ = get<std::int64_t>(in_);
  SUBQ_CHECK(in_.good() && vocab_ >= 1 && k_ >= 1 && k_ <= vocab_ && count_ >= 1,
             "{}: header: vocab {}, k {}, count {} (an incomplete file?)", source_, vocab_, k_, count_);
  const std::uintmax_t size = std::filesystem::file_size(reference);
  const std::uintmax_t want = kHeaderBytes + std::uintmax_t(count_) * record_bytes(k_, vocab_);
  SUBQ_CHECK(size == want, "{}: {} bytes, but {} records of {} tokens need {}", source_, size, count_, k_, want);
  ids_.resize(std::size_t(k_)), log_probs_.resize(std::size_t(k_)), in_top_.assign(std::size_t(vocab_), 0);
  std::iota(ids_.begin(), ids_.end(), 0);  // every token, when all are kept
}

void DivergenceTally::add(std::span<const double> q, std::int64_t target) {
  SUBQ_CHECK(std::int64_t(q.size()) == vocab_, "{}: the reference has a vocabulary of {}, this model {}", source_,
             vocab_, q.size());
  SUBQ_CHECK(next_ < count_, "{}: this run scores more than the reference's {} positions", source_, count_);
  const auto reference_target = get<std::int64_t>(in_);
  const auto target_log_p = get<double>(in_), log_rest_p = get<double>(in_);
  if (k_ < vocab_)
    for (std::int32_t& id : ids_) id = get<std::int32_t>(in_);
  for (float& lp : log_probs_) lp = get<float>(in_);
  SUBQ_CHECK(in_.good(), "{}: record {} cannot be read", source_, next_);
  SUBQ_CHECK(reference_target == target,
             "{}: position {}: the reference predicts token {}, this run {}: not the same "
             "tokens, window or protocol",
             source_, next_, reference_target, target);
  double kld = 0;
  for (std::int64_t i = 0; i < k_; ++i) {
    const std::int64_t id = ids_[std::size_t(i)];
    SUBQ_CHECK(id >= 0 && id < vocab_, "{}: record {} names token {} outside the vocabulary", source_, next_, id);
    const double lp = double(log_probs_[std::size_t(i)]);
    if (lp > -std::numeric_limits<double>::infinity()) kld += std::exp(lp) * (lp - q[std::size_t(id)]);
    in_top_[std::size_t(id)] = 1;
  }
  if (k_ < vocab_) {  // "the rest" as one class
    double rest_q = 0;
    for (std::int64_t v = 0; v < vocab_; ++v)
      if (!in_top_[std::size_t(v)]) rest_q += std::exp(q[std::size_t(v)]);
    if (log_rest_p > -std::numeric_limits<double>::infinity())
      kld += std::exp(log_rest_p) * (log_rest_p - std::log(rest_q));
  }
  for (const std::int32_t id : ids_) in_top_[std::size_t(id)] = 0;
  SUBQ_CHECK(std::isfinite(kld), "position {}: the divergence from {} is {} (a NaN or zero-probability logit)", next_,
             source_, kld);
  kld_.push_back(kld);
  delta_p_.push_back(std::exp(q[std::size_t(target)]) - std::exp(target_log_p));
  nll_difference_.push_back(target_log_p - q[std::size_t(target)]);
  const std::int32_t reference_top =
      ids_[std::size_t(std::max_element(log_probs_.begin(), log_probs_.end()) - log_probs_.begin())];
  same_top_ += std::max_element(q.begin(), q.end()) - q.begin() == reference_top;
  ++next_;
}

DivergenceSummary DivergenceTally::summary() const {
  SUBQ_CHECK(next_ == count_,
             "{}: the reference has {} positions, this run scored {}: not the same tokens, window or "
             "protocol",
             source_, count_, next_);
  DivergenceSummary s;
  s.tokens = count_;
  std::tie(s.mean_kld, s.kld_error) = mean_and_error(kld_);
  std::vector<double> sorted = kld_;
  std::sort(sorted.begin(), sorted.end());
  for (const double p : {99.9, 99.0, 95.0, 90.0, 50.0, 10.0, 5.0, 1.0})
    s.kld_percentiles.emplace_back(p, sorted[std::size_t(std::lround(p / 100 * double(sorted.size() - 1)))]);
  s.mean_delta_p = mean_and_error(delta_p_).first;
  double squares = 0;
  for (const double d : delta_p_) squares += d * d;
  s.rms_delta_p = std::sqrt(squares / double(delta_p_.size()));
  s.same_top = double(same_top_) / double(count_);
  std::tie(s.ln_ppl_ratio, s.ln_ppl_ratio_error) = mean_and_error(nll_difference_);
  return s;
}

}  // namespace subq
