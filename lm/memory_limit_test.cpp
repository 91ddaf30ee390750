// Memory limits (LoadOptions::max_memory): a checkpoint whose weights would not fit is refused
// before anything is read, with its estimate; a generated one at its first tensor too many, so
// that a config asking for terabytes is refused at once instead of being killed halfway.
#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>

#include "core/checkpoint.hpp"
#include "core/memory.hpp"
#include "lm/language_model.hpp"
#include "tests/source_dir.hpp"

using namespace subq;

namespace {

// examples/mamba_130m.json made 10^4 times as wide: its embedding alone is 1.4 TiB of float32.
std::string terabyte_mamba() {
  nlohmann::json config = {
      {"model_type", "mamba"}, {"vocab_size", 50280},     {"hidden_size", 7680000},     {"intermediate_size", 15360000},
      {"state_size", 16},      {"num_hidden_layers", 24}, {"conv_kernel", 4},           {"time_step_rank", 48},
      {"use_bias", false},     {"use_conv_bias", true},   {"layer_norm_epsilon", 1e-5}, {"tie_word_embeddings", true}};
  return config.dump();
}

const std::filesystem::path kTinyJamba = source_dir() / "tests/data/tiny-jamba-moby";

}  // namespace

TEST_CASE("memory limits: a config that asks for terabytes is refused at once, with the estimate", "[lm][memory]") {
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(LanguageModel::random(terabyte_mamba(), 1, {}, {.max_memory = std::int64_t(16) << 30}),
                    Catch::Contains("the weights up to tensor 'backbone.embeddings.weight' [50280, 7680000] float32: "
                                    "about 1.4 TiB needed, more than the memory limit of 16.0 GiB"));
  // The default limit is what the system has available, which is less than a terabyte here.
  if (available_memory_bytes() > 0)
    CHECK_THROWS_WITH(LanguageModel::random(terabyte_mamba(), 1), Catch::Contains("about 1.4 TiB needed"));
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 1.0);
}

TEST_CASE("memory limits: a generated model stops at the tensor that crosses the limit", "[lm][memory]") {
  nlohmann::json config = nlohmann::json::parse(R"({"model_type": "mamba", "vocab_size": 256, "hidden_size": 64,
    "intermediate_size": 128, "state_size": 16, "num_hidden_layers": 8, "conv_kernel": 4, "time_step_rank": 4, "use_bias": false,
    "use_conv_bias": true, "layer_norm_epsilon": 1e-5})");
  const LanguageModel whole = LanguageModel::random(config.dump(), 3);
  const std::int64_t half = whole.weight_bytes() / 2;
  // Tensors are taken layer by layer, so half the bytes run out in the middle layers.
  CHECK_THROWS_WITH(
      LanguageModel::random(config.dump(), 3, {}, {.max_memory = half}),
      Catch::Matches(".*the weights up to tensor 'backbone\\.layers\\.[345]\\..*more than the memory limit "
                     "of .*"));
  CHECK(LanguageModel::random(config.dump(), 3, {}, {.max_memory = whole.weight_bytes()}).weight_bytes() ==
        whole.weight_bytes());
}

TEST_CASE("memory limits: a checkpoint's weights are estimated from its headers before loading", "[lm][memory]") {
  const LanguageModel model = LanguageModel::load(kTinyJamba);
  Checkpoint checkpoint = Checkpoint::open(kTinyJamba);
  // Every 2-D tensor counts as a matrix in the estimate; the loader holds a few (routers) as
  // float32 anyway, so at float32 the estimate is the load's exactly, and never below it.
  CHECK(checkpoint.estimated_bytes() == model.weight_bytes());
  checkpoint.hold_matrices_as(DType::BF16);
  const std::int64_t bf16 = LanguageModel::load(kTinyJamba, Device::cpu(), {.weights = DType::BF16}).weight_bytes();
  CHECK(checkpoint.estimated_bytes() <= bf16);
  CHECK(checkpoint.estimated_bytes() > bf16 * 9 / 10);
  CHECK_THROWS_WITH(
      LanguageModel::load(kTinyJamba, Device::cpu(), {.max_memory = 1 << 20}),
      Catch::Contains("tiny-jamba-moby: the weights: about 10.9 MiB needed, more than the memory limit of "
                      "1.0 MiB"));
  CHECK(LanguageModel::load(kTinyJamba, Device::cpu(), {.max_memory = model.weight_bytes()}).weight_bytes() ==
        model.weight_bytes());
}

TEST_CASE("memory limits: a forward call's memory is estimated from two short runs", "[lm][memory]") {
  const LanguageModel model = LanguageModel::load(kTinyJamba);
  for (const std::int64_t tokens : {1000, 4000}) {
    const std::int64_t estimate = model.estimate_forward_bytes(tokens);
    const std::int64_t before = host_bytes_in_use();
    reset_host_peak_bytes();
    model.forward(Tensor::zeros({1, tokens}, DType::I64));
    const std::int64_t measured = host_peak_bytes() - before;
    INFO("tokens " << tokens << ": estimate " << estimate << ", measured " << measured);
    CHECK(estimate >= measured * 9 / 10);
    CHECK(estimate <= measured * 3 / 2);
  }
}
