// Ragged batches: sequences of different lengths packed end to end give, for every mixer of the
// hybrid stack's table and every architecture, the logits each sequence gets when it runs
// alone. The lengths 1, 17 and 300 run as groups of their own; 280 shares 300's group, padded.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "lm/hybrid_stack.hpp"
#include "lm/language_model.hpp"
#include "tests/source_dir.hpp"
#include "tests/testing.hpp"

using namespace subq;
using subq::testing::max_rel_diff;
namespace fs = std::filesystem;

namespace {

const std::vector<std::int64_t> kLengths = {1, 17, 300, 280};

// examples/hybrid_all_mixers.json with two layers of `letter`, the second's feed-forward the
// experts: a later layer of a kind (RWKV-7's value residual) and the experts on packed tokens.
std::string two_layers_of(char letter) {
  std::ifstream in(source_dir() / "examples/hybrid_all_mixers.json");
  nlohmann::json config = nlohmann::json::parse(in);
  config["layer_pattern"] = std::string(2, letter);
  config["feed_forward_pattern"] = "DE";
  return config.dump();
}

// The packed batch of kLengths against each sequence alone, on `model`'s device.
void check_packed_equals_alone(const LanguageModel& model) {
  std::mt19937 rng(3);
  std::vector<std::int64_t> ids;
  for (const std::int64_t n : kLengths)
    for (std::int64_t t = 0; t < n; ++t) ids.push_back(std::int64_t(rng() % std::uint64_t(model.vocab_size())));
  const Tensor packed = model.forward_packed(Tensor::from_vector(ids, {std::int64_t(ids.size())}), kLengths);
  REQUIRE(packed.shape() == Shape{std::int64_t(ids.size()), model.vocab_size()});
  std::int64_t offset = 0;
  for (const std::int64_t n : kLengths) {
    INFO("the sequence of " << n << " tokens");
    const std::vector<std::int64_t> alone(ids.begin() + offset, ids.begin() + offset + n);
    const Tensor logits = model.forward(Tensor::from_vector(alone, {1, n}));
    CHECK(max_rel_diff(packed.slice(0, offset, offset + n), logits.select(0, 0)) < 1e-5);
    offset += n;
  }
}

fs::path fixture(const std::string& name) { return source_dir() / "tests/conformance" / name; }

const char* const kFixtures[] = {"hf/mamba",   "hf/mamba2", "hf/rwkv4", "hf/jamba",
                                 "fla/retnet", "fla/rwkv6", "fla/rwkv7"};

}  // namespace

TEST_CASE("packed batches: every mixer gives each sequence its logits alone", "[lm][packed]") {
  for (const lm::MixerKind& kind : lm::mixer_kinds()) {
    INFO(kind.name);
    check_packed_equals_alone(LanguageModel::random(two_layers_of(kind.letter), 7));
  }
}

TEST_CASE("packed batches: every architecture's fixture gives each sequence its logits alone", "[lm][packed]") {
  for (const char* name : kFixtures) {
    INFO(name);
    check_packed_equals_alone(LanguageModel::load(fixture(name)));
  }
}

TEST_CASE("packed batches: every mixer on CUDA gives each sequence its logits alone", "[lm][packed][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  for (const lm::MixerKind& kind : lm::mixer_kinds()) {
    INFO(kind.name);
    const fs::path dir = fs::temp_directory_path() / ("subq_test_packed_" + std::string(1, kind.letter));
    fs::remove_all(dir);
    LanguageModel::random(two_layers_of(kind.letter), 7, dir);
    check_packed_equals_alone(LanguageModel::load(dir, Device::cuda()));
  }
}

TEST_CASE("packed batches: lengths that do not fit the ids are named", "[lm][packed]") {
  const LanguageModel model = LanguageModel::load(fixture("hf/mamba"));
  const Tensor ids = Tensor::from_vector<std::int64_t>({1, 2, 3, 4, 5}, {5});
  CHECK_THROWS_WITH(model.forward_packed(ids, std::vector<std::int64_t>{2, 2}),
                    Catch::Contains("the 2 lengths sum to 4, but input_ids holds 5 tokens"));
  CHECK_THROWS_WITH(model.forward_packed(ids, std::vector<std::int64_t>{5, 0}),
                    Catch::Contains("sequence 1 has length 0, expected >= 1"));
  CHECK_THROWS_WITH(model.forward_packed(ids.view({1, 5}), std::vector<std::int64_t>{5}),
                    Catch::Contains("input_ids: expected (total) int64"));
}
