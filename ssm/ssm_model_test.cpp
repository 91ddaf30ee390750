// Mamba and Mamba-2 models on the small checkpoints of the conformance fixtures: decoding token
// by token from the carried state equals the parallel pass, and checkpoints that do not match
// their config are rejected with the tensor named.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/safetensors.hpp"
#include "ssm/ssm_model.hpp"
#include "tests/source_dir.hpp"
#include "tests/testing.hpp"

using namespace subq;
using namespace subq::ssm;
using subq::testing::max_rel_diff;
namespace fs = std::filesystem;

namespace {

fs::path fixture(const char* arch) { return source_dir() / "tests/conformance/hf" / arch; }

Tensor fixture_ids(const char* arch) {
  return SafetensorsFile::open(fixture(arch) / "io.safetensors").get("input_ids").contiguous().clone();
}

// Prompt of `prompt` tokens in parallel, then one token at a time: every position's logits
// must equal the single parallel pass over the whole sequence.
void check_decoding(const SsmModel& model, const Tensor& ids, std::int64_t prompt) {
  const std::int64_t batch = ids.size(0), L = ids.size(1);
  const Tensor whole = model.forward(ids);
  SsmCache cache;
  const Tensor first = model.forward(ids.slice(1, 0, prompt).contiguous(), &cache);
  CHECK(max_rel_diff(first, whole.slice(1, 0, prompt)) < 1e-5);
  for (std::int64_t t = prompt; t < L; ++t) {
    const Tensor logits = model.step(ids.select(1, t).contiguous(), cache);
    REQUIRE(logits.shape() == Shape{batch, whole.size(2)});
    INFO("position " << t);
    CHECK(max_rel_diff(logits, whole.select(1, t)) < 1e-5);
  }
}

// A copy of a fixture checkpoint with config.json edited.
fs::path edited_copy(const char* arch, const std::function<void(nlohmann::json&)>& edit) {
  const fs::path dir = fs::temp_directory_path() / (std::string("subq_test_") + arch + "_edited");
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(fixture(arch) / "model.safetensors", dir / "model.safetensors");
  std::ifstream in(fixture(arch) / "config.json");
  nlohmann::json config = nlohmann::json::parse(in);
  edit(config);
  std::ofstream(dir / "config.json") << config.dump(1);
  return dir;
}

}  // namespace

TEST_CASE("mamba: decoding token by token equals the parallel pass", "[ssm][mamba]") {
  const SsmModel model = SsmModel::load(fixture("mamba"));
  const Tensor ids = fixture_ids("mamba");
  for (const std::int64_t prompt : {1, 5, 39}) check_decoding(model, ids, prompt);
}

TEST_CASE("mamba-2: decoding token by token equals the parallel pass", "[ssm][mamba2]") {
  // The fixture's chunk size is 16: prompts shorter than, equal to and beyond one chunk.
  const SsmModel model = SsmModel::load(fixture("mamba2"));
  const Tensor ids = fixture_ids("mamba2");
  for (const std::int64_t prompt : {1, 16, 21}) check_decoding(model, ids, prompt);
}

TEST_CASE("mamba: a checkpoint that does not match its config names the tensor", "[ssm][mamba]") {
  CHECK_THROWS_WITH(SsmModel::load(edited_copy("mamba", [](auto& c) { c["num_hidden_layers"] = 3; })),
                    Catch::Contains("'backbone.layers.2.mixer.in_proj.weight' is missing (expected shape [256, 64])"));
  CHECK_THROWS_WITH(SsmModel::load(edited_copy("mamba", [](auto& c) { c["num_hidden_layers"] = 1; })),
                    Catch::Contains("that the config does not account for: backbone.layers.1."));
  CHECK_THROWS_WITH(SsmModel::load(edited_copy("mamba", [](auto& c) { c["state_size"] = 8; })),
                    Catch::Contains("'backbone.layers.0.mixer.x_proj.weight': expected shape [24, 128], found [40, 128]"));
  CHECK_THROWS_WITH(SsmModel::load(edited_copy("mamba", [](auto& c) { c["model_type"] = "mamba2"; })),
                    Catch::Contains("missing key 'num_heads'"));
  CHECK_THROWS_WITH(SsmModel::load(edited_copy("mamba", [](auto& c) { c["model_type"] = "llama"; })),
                    Catch::Contains("model_type 'llama': expected mamba or mamba2"));
  CHECK_THROWS_WITH(SsmModel::load(edited_copy("mamba", [](auto& c) { c.erase("hidden_size"); })),
                    Catch::Contains("missing key 'hidden_size'"));
}

TEST_CASE("mamba-2: a checkpoint that does not match its config names the tensor", "[ssm][mamba2]") {
  CHECK_THROWS_WITH(SsmModel::load(edited_copy("mamba2", [](auto& c) { c["n_groups"] = 1; })),
                    Catch::Contains("backbone.layers.0.mixer.in_proj.weight") && Catch::Contains("[296, 64]"));
  CHECK_THROWS_WITH(SsmModel::load(edited_copy("mamba2", [](auto& c) { c["head_dim"] = 8; })),
                    Catch::Contains("num_heads * head_dim = 8 * 8 must equal expand * hidden_size = 128"));
  CHECK_THROWS_WITH(SsmModel::load(edited_copy("mamba2", [](auto& c) { c["conv_kernel"] = 3; })),
                    Catch::Contains("'backbone.layers.0.mixer.conv1d.weight': expected shape [192, 1, 3], found [192, 1, 4]"));
}

TEST_CASE("mamba: token ids outside the vocabulary are an error", "[ssm][mamba]") {
  const SsmModel model = SsmModel::load(fixture("mamba"));
  const Tensor ids = Tensor::from_vector<std::int64_t>({1, 2, 256}, {1, 3});
  CHECK_THROWS_WITH(model.forward(ids), Catch::Contains("id 256 at position 2 is outside the vocabulary [0, 256)"));
}
