// The evaluation commands' inputs: each file of the bad-input corpora (tests/data/bad_inputs,
// written by make_bad_inputs.py, one per failure class; the fuzz targets' seeds) is refused
// with its expected message, naming the file.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "tests/source_dir.hpp"
#include "tools/ppl/inputs.hpp"

using namespace subq;
namespace fs = std::filesystem;

namespace {

void check_corpus(const std::string& folder, const std::function<void(const std::string& path)>& read) {
  const fs::path dir = source_dir() / "tests/data/bad_inputs" / folder;
  std::ifstream in(dir / "expected.json");
  REQUIRE(in.good());
  const nlohmann::json expected = nlohmann::json::parse(in);
  REQUIRE(expected.size() >= 8);
  for (const auto& [file, message] : expected.items()) {
    INFO(folder << "/" << file);
    const fs::path path = dir / file;
    CHECK_THROWS_WITH(read(path.string()),
                      Catch::Contains(message.get<std::string>()) && Catch::Contains(path.string()));
  }
}

}  // namespace

TEST_CASE("inputs: bad tokenizer.json files are refused, naming the file and the fault", "[tools][inputs][corpus]") {
  check_corpus("tokenizer", [](const std::string& path) { (void)Tokenizer::load(path); });
}

TEST_CASE("inputs: bad token files are refused, naming the file and the fault", "[tools][inputs][corpus]") {
  check_corpus("tokens", [](const std::string& path) { (void)tools::read_token_file(path); });
}

TEST_CASE("inputs: bad document collections are refused, naming the file, line and fault", "[tools][inputs][corpus]") {
  check_corpus("documents", [](const std::string& path) { (void)tools::read_documents(path); });
}

TEST_CASE("inputs: the parsers read from memory as from the files", "[tools][inputs]") {
  const auto documents = tools::parse_jsonl_documents("docs.jsonl", "{\"text\": \"one\"}\n\n{\"text\": \"two\"}\n");
  REQUIRE(documents.size() == 2);
  CHECK(documents[1].name == "docs.jsonl:3");
  CHECK(documents[1].text == "two");
  const std::string npy = std::string("\x93NUMPY\x01\x00", 8) + std::string("\x28\x00", 2) +
                          "{'descr': '<u2', 'fortran_order': False}" + std::string("\x07\x00\xff\xff", 4);
  CHECK(tools::parse_token_file("ids.npy", npy) == std::vector<std::int64_t>{7, 65535});
}
