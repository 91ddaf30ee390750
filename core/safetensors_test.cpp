#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/config.hpp"
#include "core/safetensors.hpp"
#include "tests/source_dir.hpp"

using namespace subq;
namespace fs = std::filesystem;

namespace {

fs::path temp_file(const std::string& name) { return fs::temp_directory_path() / ("subq_test_" + name); }

}  // namespace

TEST_CASE("safetensors: every dtype round-trips through a file", "[core][safetensors]") {
  const fs::path path = temp_file("roundtrip.safetensors");
  std::vector<std::pair<std::string, Tensor>> tensors = {
      {"f32", Tensor::from_vector(std::vector<float>{1.5f, -2, 3, 4, 5, 6}, {2, 3})},
      {"f64", Tensor::from_vector(std::vector<double>{1e300, -1e-300}, {2})},
      {"bf16", Tensor::from_vector(std::vector<float>{1, 2, 3}, {3}).to(DType::BF16)},
      {"f16", Tensor::from_vector(std::vector<float>{0.5f, -0.25f}, {1, 2}).to(DType::F16)},
      {"i32", Tensor::from_vector(std::vector<std::int32_t>{-7, 7}, {2})},
      {"i64", Tensor::from_vector(std::vector<std::int64_t>{1LL << 62}, {1})},
      {"u8", Tensor::from_vector(std::vector<std::uint8_t>{0, 255, 3}, {3})},
      {"bool", Tensor::from_vector(std::vector<bool>{true, false}, {2})},
      {"scalar", Tensor::from_vector(std::vector<float>{42}, {})},
      {"empty", Tensor::zeros({0, 5}, DType::F32)},
      {"strided", Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2}).transpose(0, 1)},
  };
  save_safetensors(path, tensors, {{"format", "pt"}});
  const SafetensorsFile file = SafetensorsFile::open(path);
  CHECK(file.metadata().at("format") == "pt");
  CHECK(file.names().size() == tensors.size());
  for (const auto& [name, t] : tensors) {
    const Tensor got = file.get(name);
    CHECK(got.dtype() == t.dtype());
    CHECK(got.shape() == t.shape());
    const Tensor want = t.contiguous();
    const std::size_t bytes = std::size_t(t.numel()) * dtype_size(t.dtype());
    CHECK(std::memcmp(got.raw_data(), want.raw_data(), bytes) == 0);
  }
  // Zero-copy: the tensor points into the file's mapping.
  CHECK(file.get("f32").storage() == file.get("f64").storage());
  // Widening on request.
  const Tensor widened = file.get("bf16", DType::F32);
  CHECK(widened.dtype() == DType::F32);
  CHECK(widened.data<float>()[2] == 3.0f);
  fs::remove(path);
}

TEST_CASE("safetensors: unaligned data is copied, not read misaligned", "[core][safetensors]") {
  // A header of 9 bytes puts the data at offset 17, so an f32 there is misaligned.
  const fs::path path = temp_file("unaligned.safetensors");
  const std::string header = R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  std::string padded = header + std::string((header.size() % 2 == 0) ? 1 : 0, ' ');
  std::ofstream out(path, std::ios::binary);
  const std::uint64_t n = padded.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << padded;
  const float value = 2.5f;
  out.write(reinterpret_cast<const char*>(&value), 4);
  out.close();
  const Tensor t = SafetensorsFile::open(path).get("x");
  CHECK(reinterpret_cast<std::uintptr_t>(t.raw_data()) % 4 == 0);
  CHECK(t.data<float>()[0] == 2.5f);
  fs::remove(path);
}

TEST_CASE("safetensors: missing, unexpected and mis-shaped tensors are named", "[core][safetensors]") {
  const fs::path path = temp_file("names.safetensors");
  save_safetensors(path, {{"w", Tensor::zeros({2, 3}, DType::F32)}, {"extra", Tensor::zeros({1}, DType::F32)}});
  const SafetensorsFile file = SafetensorsFile::open(path);
  CHECK_THROWS_WITH(file.get("bias"), Catch::Contains("tensor 'bias' not found") && Catch::Contains(path.string()));
  CHECK_THROWS_WITH(file.require("w", {3, 2}),
                    Catch::Contains("tensor 'w': expected shape [3, 2], found [2, 3]"));
  CHECK_THROWS_WITH(file.require_names({"w", "bias"}),
                    Catch::Contains("missing [bias]") && Catch::Contains("unexpected [extra]"));
  CHECK_NOTHROW(file.require_names({"w", "extra"}));
  fs::remove(path);
}

TEST_CASE("safetensors: the bad-input corpus is rejected with clear errors", "[core][safetensors][corpus]") {
  const fs::path dir = source_dir() / "tests/data/bad_safetensors";
  std::ifstream in(dir / "expected.json");
  REQUIRE(in.good());
  const nlohmann::json expected = nlohmann::json::parse(in);
  REQUIRE(expected.size() >= 20);
  for (const auto& [file, message] : expected.items()) {
    INFO(file);
    const fs::path path = dir / file;
    CHECK_THROWS_WITH(SafetensorsFile::open(path),
                      Catch::Contains(message.get<std::string>()) && Catch::Contains(path.string()));
  }
}

TEST_CASE("config: typed access with errors naming file and key", "[core][config]") {
  const JsonConfig c = JsonConfig::parse(R"({"d_model": 64, "eps": 1e-5, "tie": true, "name": "m",
                                            "layers": [1, 2], "rope": {"theta": 10000}, "none": null})",
                                         "config.json");
  CHECK(c.get_int("d_model") == 64);
  CHECK(c.get_double("d_model") == 64.0);
  CHECK(c.get_double("eps") == 1e-5);
  CHECK(c.get_bool("tie"));
  CHECK(c.get_string("name") == "m");
  CHECK(c.get_ints("layers") == std::vector<std::int64_t>{1, 2});
  CHECK(c.child("rope").get_int("theta") == 10000);
  CHECK(c.get_int("n_layer", 4) == 4);
  CHECK(c.get_int("none", 7) == 7);
  CHECK_THROWS_WITH(c.get_int("eps"), "config.json: key 'eps': expected an integer, found 1e-05");
  CHECK_THROWS_WITH(c.get_int("vocab_size"), "config.json: missing key 'vocab_size'");
  CHECK_THROWS_WITH(c.get_string("tie", "x"), Catch::Contains("expected a string"));
  CHECK_THROWS_WITH(JsonConfig::parse("{\"a\": ", "bad.json"), "bad.json: malformed JSON");
  CHECK_THROWS_WITH(JsonConfig::parse("[1]", "arr.json"), Catch::Contains("expected a JSON object"));
}

TEST_CASE("config: non-finite floats as transformers writes them", "[core][config]") {
  const JsonConfig c = JsonConfig::parse(
      R"({"limit": [0.0, {"__float__": "Infinity"}], "low": {"__float__": "-Infinity"}, "bad": {"__float__": "big"}})",
      "config.json");
  const std::vector<double> limit = c.get_doubles("limit");
  REQUIRE(limit.size() == 2);
  CHECK(limit[0] == 0.0);
  CHECK(std::isinf(limit[1]));
  CHECK(c.get_double("low") < 0);
  CHECK_THROWS_WITH(c.get_double("bad"), Catch::Contains("key 'bad': expected a number"));
}
