// The weight formats of LoadOptions and subq quantize on whole models: every architecture runs in
// each, near its float32 logits and decoding as it scores; a converted checkpoint loads as stored;
// and a quantised checkpoint that does not hold together is refused, naming the tensor.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/checkpoint.hpp"
#include "core/safetensors.hpp"
#include "lm/language_model.hpp"
#include "tests/source_dir.hpp"
#include "tests/testing.hpp"

using namespace subq;
using subq::testing::max_rel_diff;
namespace fs = std::filesystem;

namespace {

fs::path fixture(const std::string& name) { return source_dir() / "tests/conformance" / name; }
const fs::path kTinyJamba = source_dir() / "tests/data/tiny-jamba-moby";

// How far each format may move a logit, relative to 1 + its size: bfloat16 keeps 8 bits of
// mantissa, float16 11, q8_0 about 8 and q4_0 about 4 (per-block scales). The fixtures' random
// weights amplify what the trained tiny Jamba damps; q4_0 is held to a bound on that one only
// (its divergence on real text is what the README's table measures).
double tolerance(DType format, bool trained) {
  switch (format) {
    case DType::F16: return 5e-3;
    case DType::Q4_0: return trained ? 0.5 : INFINITY;
    default: return 0.1;
  }
}

Tensor byte_ids(const std::string& text) {
  std::vector<std::int64_t> ids(text.begin(), text.end());
  return Tensor::from_vector(ids, {1, std::int64_t(ids.size())});
}

using Tensors = std::vector<std::pair<std::string, Tensor>>;

// Writes dir/model.safetensors again with `edit` applied to its tensors.
void edit_tensors(const fs::path& dir, const std::function<void(Tensors&)>& edit) {
  Tensors tensors;
  {
    const SafetensorsFile file = SafetensorsFile::open(dir / "model.safetensors");
    for (const std::string& name : file.names()) tensors.emplace_back(name, file.get(name).clone());
  }
  edit(tensors);
  save_safetensors(dir / "model.safetensors", tensors);
}

void edit_config(const fs::path& dir, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json config = nlohmann::json::parse(std::ifstream(dir / "config.json"));
  edit(config);
  std::ofstream(dir / "config.json") << config.dump(1);
}

}  // namespace

TEST_CASE("weight formats: every architecture runs in each, near float32, decoding as it scores", "[lm][weights]") {
  const fs::path hybrid = fs::temp_directory_path() / "subq_test_formats_hybrid";
  fs::remove_all(hybrid);
  std::stringstream spec;
  spec << std::ifstream(source_dir() / "examples/hybrid_all_mixers.json").rdbuf();
  LanguageModel::random(spec.str(), 5, hybrid);
  std::vector<fs::path> models{kTinyJamba, hybrid};
  for (const char* name : {"hf/mamba", "hf/mamba2", "hf/rwkv4", "fla/retnet", "fla/rwkv6", "fla/rwkv7"})
    models.push_back(fixture(name));
  const Tensor ids = byte_ids("It is a way I have of driving off the spleen.");
  for (const fs::path& dir : models) {
    const LanguageModel reference = LanguageModel::load(dir);
    const Tensor want = reference.forward(ids.slice(1, 0, 12).contiguous().clone());
    for (const DType format : {DType::BF16, DType::F16, DType::Q8_0, DType::Q4_0}) {
      INFO(dir.filename().string() << " in " << dtype_name(format));
      const LanguageModel model = LanguageModel::load(dir, Device::cpu(), {.weights = format});
      CHECK(model.weight_bytes() < reference.weight_bytes());
      const Tensor prompt = ids.slice(1, 0, 12).contiguous().clone();
      const Tensor whole = model.forward(prompt);
      CHECK(max_rel_diff(whole, want) < tolerance(format, dir == kTinyJamba));
      CHECK(max_rel_diff(whole, want) > 0);  // the weights did change
      ModelCache cache;                      // the widened panels of a prompt and the dot products of a step agree
      CHECK(max_rel_diff(model.forward(prompt.slice(1, 0, 5).contiguous(), &cache), whole.slice(1, 0, 5)) < 1e-5);
      for (std::int64_t t = 5; t < 12; ++t)
        CHECK(max_rel_diff(model.step(prompt.select(1, t).contiguous(), cache), whole.select(1, t)) < 1e-5);
    }
  }
}

TEST_CASE("quantize: the converted checkpoint loads as stored, as converting on loading does", "[lm][weights]") {
  const Tensor ids = byte_ids("Whenever I find myself growing grim about the mouth");
  for (const DType format : {DType::BF16, DType::Q8_0, DType::Q4_0}) {
    INFO(dtype_name(format));
    const fs::path out = fs::temp_directory_path() / ("subq_test_quantized_" + std::string(dtype_name(format)));
    fs::remove_all(out);
    const std::int64_t bytes = convert_checkpoint(kTinyJamba, out, format);
    const LanguageModel converted = LanguageModel::load(kTinyJamba, Device::cpu(), {.weights = format});
    const LanguageModel stored = LanguageModel::load(out, Device::cpu(), {.weights = std::nullopt});
    CHECK(stored.weight_bytes() == converted.weight_bytes());
    CHECK(bytes < LanguageModel::load(kTinyJamba).weight_bytes());
    CHECK(max_rel_diff(stored.forward(ids), converted.forward(ids)) == 0);
    const nlohmann::json config = nlohmann::json::parse(std::ifstream(out / "config.json"));
    CHECK(config.contains("quantization_config") == is_quantized(format));
    // Converting again reads the converted folder: the same bytes come out.
    const fs::path again = out.string() + "_again";
    fs::remove_all(again);
    CHECK(convert_checkpoint(out, again, format) == bytes);
    CHECK(max_rel_diff(LanguageModel::load(again, Device::cpu(), {.weights = std::nullopt}).forward(ids),
                       stored.forward(ids)) == 0);
  }
  CHECK_THROWS_WITH(convert_checkpoint(kTinyJamba, kTinyJamba, DType::Q8_0),
                    Catch::Contains("is the checkpoint itself"));
}

TEST_CASE("quantize: codes, scales and schemes that do not hold together are named", "[lm][weights]") {
  const fs::path base = fs::temp_directory_path() / "subq_test_quantized_bad_base";
  fs::remove_all(base);
  convert_checkpoint(kTinyJamba, base, DType::Q8_0);
  const std::string matrix = "model.layers.0.mamba.in_proj.weight";
  auto broken = [&](const std::function<void(const fs::path&)>& breaking) {
    const fs::path dir = fs::temp_directory_path() / "subq_test_quantized_bad";
    fs::remove_all(dir);
    fs::copy(base, dir);
    breaking(dir);
    return dir;
  };
  auto load = [](const fs::path& dir) { return LanguageModel::load(dir, Device::cpu(), {.weights = std::nullopt}); };
  CHECK_THROWS_WITH(load(broken([](const fs::path& d) {
                      edit_config(d, [](nlohmann::json& c) { c["quantization_config"]["scheme"] = "q5_1"; });
                    })),
                    Catch::Contains("scheme 'q5_1': unknown scheme"));
  CHECK_THROWS_WITH(load(broken([](const fs::path& d) {
                      edit_config(d, [](nlohmann::json& c) { c["quantization_config"]["scheme"] = "q4_0"; });
                    })),
                    Catch::Contains("q4_0 codes are uint8, found int8"));
  CHECK_THROWS_WITH(load(broken([&](const fs::path& d) {
                      edit_tensors(d, [&](Tensors& tensors) {
                        for (auto& [name, t] : tensors)
                          if (name == matrix + ".scales") t = Tensor::zeros({t.size(0), t.size(1) + 1}, DType::F16);
                      });
                    })),
                    Catch::Contains("'" + matrix + ".scales': expected shape"));
  CHECK_THROWS_WITH(load(broken([&](const fs::path& d) {
                      edit_tensors(d, [&](Tensors& tensors) {
                        std::erase_if(tensors, [&](const auto& entry) { return entry.first == matrix + ".scales"; });
                      });
                    })),
                    Catch::Contains("tensor '" + matrix + "': its scales") && Catch::Contains("are missing"));
  CHECK_THROWS_WITH(load(broken([&](const fs::path& d) {
                      edit_tensors(d, [&](Tensors& tensors) {
                        for (auto& [name, t] : tensors)
                          if (name == matrix + ".scales") t.data<float16>()[3] = to_float16(NAN);
                      });
                    })),
                    Catch::Contains("scale 3 of '" + matrix + ".scales' is nan"));
}

TEST_CASE("weight formats: what is not a weight format is refused; short rows stay float32", "[lm][weights]") {
  Checkpoint ck = Checkpoint::generated(
      JsonConfig::parse("{}", "test config"),
      [](const std::string&, const Shape& shape, TensorRole) { return Tensor::zeros(shape, DType::F32); });
  CHECK_THROWS_WITH(ck.hold_matrices_as(DType::I32), Catch::Contains("cannot be held as int32"));
  ck.hold_matrices_as(DType::Q8_0);
  CHECK(ck.take_matrix("rows of 48", {4, 48}).dtype() == DType::F32);  // not whole blocks: kept in float32
  CHECK(ck.take_matrix("rows of 64", {4, 64}).dtype() == DType::Q8_0);
}

TEST_CASE("weight formats: every format on CUDA gives the CPU's logits, prompt and steps", "[lm][weights][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  const Tensor ids = byte_ids("Call me Ishmael.");
  for (const DType format : {DType::BF16, DType::F16, DType::Q8_0, DType::Q4_0}) {
    INFO(dtype_name(format));
    const LanguageModel cpu = LanguageModel::load(kTinyJamba, Device::cpu(), {.weights = format});
    const LanguageModel gpu = LanguageModel::load(kTinyJamba, Device::cuda(), {.weights = format});
    CHECK(gpu.weight_bytes() == cpu.weight_bytes());
    CHECK(max_rel_diff(gpu.forward(ids), cpu.forward(ids)) < 1e-4);  // the same weights, sums in another order
    ModelCache on_cpu, on_gpu;
    cpu.prefill(ids, on_cpu), gpu.prefill(ids, on_gpu);
    const Tensor next = Tensor::from_vector(std::vector<std::int64_t>{'A'}, {1});
    CHECK(max_rel_diff(gpu.step(next, on_gpu), cpu.step(next, on_cpu)) < 1e-4);  // the dot-product kernel
  }
}
