// The reference file of subq ppl --save-logits and the divergence statistics against it.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "lm/divergence.hpp"

using namespace subq;

namespace {

// A random log-softmax over `vocab` tokens.
std::vector<double> random_log_probs(std::mt19937& rng, std::int64_t vocab, double spread) {
  std::normal_distribution<double> logit(0, spread);
  std::vector<double> lp(static_cast<std::size_t>(vocab));
  double z = 0;
  for (double& v : lp) v = logit(rng), z += std::exp(v);
  for (double& v : lp) v -= std::log(z);
  return lp;
}

double exact_kld(const std::vector<double>& p, const std::vector<double>& q) {
  double kld = 0;
  for (std::size_t i = 0; i < p.size(); ++i) kld += std::exp(p[i]) * (p[i] - q[i]);
  return kld;
}

}  // namespace

TEST_CASE("divergence: exact when every token is kept, a lower bound over the top k", "[lm][divergence]") {
  const auto file = std::filesystem::temp_directory_path() / "subq_divergence_test.bin";
  std::mt19937 rng(21);
  const std::int64_t vocab = 50;
  std::vector<std::vector<double>> base, other;
  for (int t = 0; t < 40; ++t)
    base.push_back(random_log_probs(rng, vocab, 2)), other.push_back(random_log_probs(rng, vocab, 2));
  for (const std::int64_t k : {64, 5}) {
    INFO("top " << k);
    {
      LogProbWriter writer(file, vocab, k);
      for (int t = 0; t < 40; ++t) writer.add(base[std::size_t(t)], t % vocab);
      writer.finish();
    }
    DivergenceTally same(file), moved(file);
    double want = 0, nll = 0;
    for (int t = 0; t < 40; ++t) {
      same.add(base[std::size_t(t)], t % vocab);
      moved.add(other[std::size_t(t)], t % vocab);
      want += exact_kld(base[std::size_t(t)], other[std::size_t(t)]) / 40;
      nll += (base[std::size_t(t)][std::size_t(t % vocab)] - other[std::size_t(t)][std::size_t(t % vocab)]) / 40;
    }
    const DivergenceSummary s = same.summary(), m = moved.summary();
    CHECK(std::fabs(s.mean_kld) < 1e-7);  // the file's float32 log-probabilities
    CHECK(s.same_top == 1.0);
    CHECK(s.rms_delta_p == 0.0);  // the target's log-probability is kept in float64
    CHECK(m.tokens == 40);
    if (k >= vocab)
      CHECK(m.mean_kld == Approx(want).epsilon(1e-6));
    else
      CHECK((m.mean_kld <= want && m.mean_kld > 0.2 * want));
    CHECK(m.ln_ppl_ratio == Approx(nll).epsilon(1e-12));
    CHECK(m.kld_percentiles.front().second >= m.kld_percentiles.back().second);
  }
  std::filesystem::remove(file);
}

TEST_CASE("divergence: another text, model or an incomplete file is refused", "[lm][divergence]") {
  const auto file = std::filesystem::temp_directory_path() / "subq_divergence_refused.bin";
  std::mt19937 rng(22);
  const std::vector<double> lp = random_log_probs(rng, 10, 1);
  std::filesystem::remove(file);
  {
    LogProbWriter writer(file, 10, 4);
    writer.add(lp, 3), writer.add(lp, 4);
  }  // no finish() (an error or an interruption): no file at all, not a partial one
  CHECK(!std::filesystem::exists(file));
  {
    LogProbWriter writer(file, 10, 4);
    writer.add(lp, 3), writer.add(lp, 4);
    writer.finish();
  }
  {  // a file whose count was never written (as by a writer that did not finish) is refused
    const auto incomplete = std::filesystem::temp_directory_path() / "subq_divergence_incomplete.bin";
    std::filesystem::copy_file(file, incomplete, std::filesystem::copy_options::overwrite_existing);
    std::fstream f(incomplete, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(24);
    const std::int64_t zero = 0;
    f.write(reinterpret_cast<const char*>(&zero), sizeof zero);
    f.close();
    CHECK_THROWS_WITH(DivergenceTally(incomplete), Catch::Contains("incomplete"));
    std::filesystem::remove(incomplete);
  }
  DivergenceTally tally(file);
  CHECK_THROWS_WITH(tally.add(lp, 5), Catch::Contains("predicts token 3, this run 5"));
  DivergenceTally short_run(file);
  short_run.add(lp, 3);
  CHECK_THROWS_WITH(short_run.summary(), Catch::Contains("has 2 positions, this run scored 1"));
  DivergenceTally wrong_vocab(file);
  CHECK_THROWS_WITH(wrong_vocab.add(std::vector<double>(12, -2.5), 3), Catch::Contains("vocabulary of 10"));
  std::filesystem::remove(file);
}
