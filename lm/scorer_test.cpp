#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "lm/scorer.hpp"
#include "tests/source_dir.hpp"

using namespace subq;

namespace {

std::vector<std::int64_t> file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  const std::string text = s.str();
  std::vector<std::int64_t> ids(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) ids[i] = static_cast<unsigned char>(text[i]);
  return ids;
}

}  // namespace

TEST_CASE("scorer: the tiny Jamba reproduces its golden bits per byte on the held-out text", "[lm][scorer]") {
  // tests/data/tiny-jamba-moby/golden_eval.json: windows of 1024 bytes of Moby-Dick chapters 126-135
  // and the epilogue (tests/data/moby_dick_heldout.txt), each scored alone.
  const auto dir = source_dir() / "tests/data/tiny-jamba-moby";
  std::ifstream golden_file(dir / "golden_eval.json");
  const nlohmann::json golden = nlohmann::json::parse(golden_file);
  const LanguageModel model = LanguageModel::load(dir);
  const std::vector<std::int64_t> bytes = file_bytes(source_dir() / "tests/data/moby_dick_heldout.txt");
  ScoreOptions options;
  options.window = golden["window"].get<std::int64_t>();
  const ScoreResult r = score(model, bytes, std::int64_t(bytes.size()), options);
  CHECK(r.tokens_scored == golden["tokens_scored"].get<std::int64_t>());
  CHECK(std::abs(r.bits_per_byte - golden["bits_per_byte"].get<double>()) < 1e-3);
  CHECK(std::abs(r.mean_nll_nats - golden["mean_nll_nats"].get<double>()) < 1e-3);
}

TEST_CASE("scorer: protocols on a short text", "[lm][scorer]") {
  const LanguageModel model = LanguageModel::load(source_dir() / "tests/data/tiny-jamba-moby");
  std::vector<std::int64_t> bytes = file_bytes(source_dir() / "tests/data/moby_dick_heldout.txt");
  bytes.resize(700);
  ScoreOptions o;
  o.window = 256;
  CHECK(score(model, bytes, 700, o).tokens_scored == 2 * 255);  // two whole windows, the rest dropped
  o.protocol = ScoreProtocol::Sliding;
  o.stride = 128;
  const ScoreResult sliding = score(model, bytes, 700, o);
  CHECK(sliding.tokens_scored == 699);  // every token but the first, once
  o.protocol = ScoreProtocol::Stream;
  const ScoreResult stream = score(model, bytes, 700, o);
  CHECK(stream.tokens_scored == 699);
  // Streaming carries all the context, sliding windows at least 128 tokens of it: the stream is
  // never worse than a fresh window per 256 tokens here.
  CHECK(stream.mean_nll_nats < sliding.mean_nll_nats + 0.05);
  o.window = 1000;
  o.protocol = ScoreProtocol::Windows;
  CHECK_THROWS_WITH(score(model, bytes, 700, o), Catch::Contains("window of 1000 tokens is longer than the text (700 tokens)"));
}
