// Context parallelism (subq_dist_tests, under mpirun -np 2 and 4): every mixer of the hybrid
// stack's table, and the tiny Jamba, give each rank's segment the logits one process gives
// those positions, for L = 1, L < P and L = 10000 cut unevenly; a rank with another model is an
// error on every rank.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "dist/communicator.hpp"
#include "lm/hybrid_stack.hpp"
#include "lm/language_model.hpp"
#include "tests/source_dir.hpp"
#include "tests/testing.hpp"

using namespace subq;
using subq::testing::max_rel_diff;

namespace {

// examples/hybrid_all_mixers.json with two layers of `letter` (the second a later layer of its
// kind, with the experts), Hyena's filters long enough for 10000 tokens.
std::string two_layers_of(char letter) {
  std::ifstream in(source_dir() / "examples/hybrid_all_mixers.json");
  nlohmann::json config = nlohmann::json::parse(in);
  config["layer_pattern"] = std::string(2, letter);
  config["feed_forward_pattern"] = "DE";
  config["hyena_l_max"] = 10240;
  return config.dump();
}

// The ranks' segments of L tokens: rank r's share grows with r (uneven), every token placed.
std::vector<std::int64_t> segment_lengths(std::int64_t L, int P) {
  std::vector<std::int64_t> lengths(static_cast<std::size_t>(P));
  const std::int64_t weights = std::int64_t(P) * (P + 1) / 2;
  std::int64_t placed = 0;
  for (int r = 0; r < P; ++r) placed += lengths[std::size_t(r)] = L * (r + 1) / weights;
  lengths.back() += L - placed;
  return lengths;
}

// This rank's segment of a random sequence of L tokens, run context-parallel, against one
// process's forward over the tokens up to the segment's end.
void check_segment_logits(const LanguageModel& model, std::int64_t L) {
  dist::Communicator& comm = dist::Communicator::world();
  std::mt19937 rng{std::uint32_t(L)};
  std::vector<std::int64_t> ids(static_cast<std::size_t>(L));
  for (std::int64_t& id : ids) id = std::int64_t(rng() % std::uint64_t(model.vocab_size()));
  const std::vector<std::int64_t> lengths = segment_lengths(L, comm.size());
  std::int64_t begin = 0;
  for (int r = 0; r < comm.rank(); ++r) begin += lengths[std::size_t(r)];
  const std::int64_t n = lengths[std::size_t(comm.rank())];
  const std::vector<std::int64_t> mine(ids.begin() + begin, ids.begin() + begin + n);
  const Tensor logits = model.forward_context_parallel(Tensor::from_vector(mine, {1, n}), comm);
  REQUIRE(logits.shape() == Shape{1, n, model.vocab_size()});
  if (n == 0) return;
  const std::vector<std::int64_t> prefix(ids.begin(), ids.begin() + begin + n);
  const Tensor whole = model.forward(Tensor::from_vector(prefix, {1, begin + n}));
  CHECK(max_rel_diff(logits, whole.slice(1, begin, begin + n)) < 1e-5);
}

}  // namespace

TEST_CASE("context parallel: every mixer gives each rank's segment its single-process logits", "[dist][lm]") {
  const int P = dist::Communicator::world().size();
  for (const lm::MixerKind& kind : lm::mixer_kinds()) {
    INFO(kind.name);
    const LanguageModel model = LanguageModel::random(two_layers_of(kind.letter), 7);
    for (const std::int64_t L : {std::int64_t(1), std::int64_t(std::max(1, P - 1)), std::int64_t(10000)}) {
      INFO("L = " << L);
      check_segment_logits(model, L);
    }
  }
}

TEST_CASE("context parallel: the tiny Jamba gives each rank's segment its single-process logits", "[dist][lm]") {
  const LanguageModel model = LanguageModel::load(source_dir() / "tests/data/tiny-jamba-moby");
  for (const std::int64_t L : {std::int64_t(1), std::int64_t(3), std::int64_t(10000)}) {
    INFO("L = " << L);
    check_segment_logits(model, L);
  }
}

TEST_CASE("context parallel: a rank holding another model is an error on every rank", "[dist][lm]") {
  dist::Communicator& comm = dist::Communicator::world();
  if (comm.size() == 1) return;
  const LanguageModel model = LanguageModel::random(two_layers_of('M'), comm.rank() == 1 ? 8 : 7);
  const Tensor ids = Tensor::from_vector<std::int64_t>({1, 2, 3}, {1, 3});
  CHECK_THROWS_WITH(model.forward_context_parallel(ids, comm),
                    Catch::Contains("rank 1 holds another model than rank 0"));
}
