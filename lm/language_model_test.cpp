// Every architecture LanguageModel loads, on the small checkpoints of the conformance fixtures:
// decoding token by token from the carried state equals the parallel pass, and checkpoints that
// do not match their config are rejected with the tensor or option named.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "core/safetensors.hpp"
#include "lm/language_model.hpp"
#include "tests/source_dir.hpp"
#include "tests/testing.hpp"

using namespace subq;
using subq::testing::max_rel_diff;
using subq::testing::non_finite_count;
namespace fs = std::filesystem;

namespace {

fs::path fixture(const std::string& name) { return source_dir() / "tests/conformance" / name; }

// A copy of a fixture checkpoint with config.json edited.
fs::path edited_copy(const std::string& name, const std::function<void(nlohmann::json&)>& edit) {
  const fs::path dir = fs::temp_directory_path() / ("subq_test_" + fs::path(name).filename().string() + "_edited");
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(fixture(name) / "model.safetensors", dir / "model.safetensors");
  std::ifstream in(fixture(name) / "config.json");
  nlohmann::json config = nlohmann::json::parse(in);
  edit(config);
  std::ofstream(dir / "config.json") << config.dump(1);
  return dir;
}

// The whole text of a file.
std::string file_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The text of examples/<name>.
std::string example(const std::string& name) { return file_text(source_dir() / "examples" / name); }

// A model with random weights from an example config, written to a fresh temporary folder.
LanguageModel random_example(const std::string& name, std::uint64_t seed, const fs::path& dir) {
  fs::remove_all(dir);
  return LanguageModel::random(example(name), seed, dir);
}

// Each prompt runs in parallel into a fresh cache, then the rest of ids one token at a time:
// every logit equals the whole sequence's, `whole`.
void check_decodes_as_it_scores(const LanguageModel& model, const Tensor& ids, const Tensor& whole,
                                std::initializer_list<std::int64_t> prompts) {
  for (const std::int64_t prompt : prompts) {
    INFO("prompt " << prompt);
    ModelCache cache;
    CHECK(max_rel_diff(model.forward(ids.slice(1, 0, prompt).contiguous(), &cache), whole.slice(1, 0, prompt)) < 1e-5);
    for (std::int64_t t = prompt; t < ids.size(1); ++t) {
      INFO("position " << t);
      CHECK(max_rel_diff(model.step(ids.select(1, t).contiguous(), cache), whole.select(1, t)) < 1e-5);
    }
    CHECK(cache.position == ids.size(1));
  }
}

// transformers' RecurrentGemma keys, small (a vocabulary of ASCII): two recurrent blocks, then local attention over 5
// keys, multi-query, half of each head turned by rotary positions.
std::string recurrent_gemma_config() {
  return R"({"model_type": "recurrent_gemma", "vocab_size": 128, "hidden_size": 64,
      "intermediate_size": 192, "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 1,
      "lru_width": 64, "attention_window_size": 5, "conv1d_width": 4, "logits_soft_cap": 30.0,
      "rms_norm_eps": 1e-6, "block_types": ["recurrent", "recurrent", "attention"],
      "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5},
      "hidden_activation": "gelu_pytorch_tanh", "tie_word_embeddings": true})";
}

}  // namespace

TEST_CASE("language models: decoding token by token equals the parallel pass", "[lm][model]") {
  // Prompts of 1 token, of less than, exactly and more than one chunk (16 for the Mamba-2 fixture).
  for (const std::string name : {"hf/mamba", "hf/mamba2", "hf/rwkv4", "hf/jamba", "fla/retnet", "fla/rwkv6", "fla/rwkv7"}) {
    const LanguageModel model = LanguageModel::load(fixture(name));
    const Tensor ids = SafetensorsFile::open(fixture(name) / "io.safetensors").get("input_ids").contiguous().clone();
    INFO(name);
    check_decodes_as_it_scores(model, ids, model.forward(ids), {1, 5, 16, 21});
  }
}

TEST_CASE("language models: every architecture on CUDA gives the CPU's logits and decodes as it scores",
          "[lm][model][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  // The fixtures, a random hybrid of every mixer the patterns take (experts every other layer,
  // attention with grouped heads and rotary positions), and a random RecurrentGemma.
  random_example("hybrid_all_mixers.json", 11, fs::temp_directory_path() / "subq_test_all_mixers_cuda");
  fs::remove_all(fs::temp_directory_path() / "subq_test_recurrent_gemma_cuda");
  LanguageModel::random(recurrent_gemma_config(), 5, fs::temp_directory_path() / "subq_test_recurrent_gemma_cuda");
  for (const fs::path& dir :
       {fixture("hf/mamba"), fixture("hf/mamba2"), fixture("hf/rwkv4"), fixture("fla/rwkv6"), fixture("fla/rwkv7"),
        fixture("fla/retnet"), fixture("hf/jamba"), fs::temp_directory_path() / "subq_test_all_mixers_cuda",
        fs::temp_directory_path() / "subq_test_recurrent_gemma_cuda"}) {
    INFO(dir.string());
    const LanguageModel cpu = LanguageModel::load(dir);
    const LanguageModel gpu = LanguageModel::load(dir, Device::cuda());
    const Tensor ids = fs::exists(dir / "io.safetensors")
                           ? SafetensorsFile::open(dir / "io.safetensors").get("input_ids").contiguous().clone()
                           : Tensor::from_vector<std::int64_t>({67, 97, 108, 108, 32, 109, 101, 32, 73, 115, 104, 109, 97, 101,
                                                                108, 46, 32, 83, 111, 109, 101, 32, 121, 101, 97, 114},
                                                               {1, 26});
    const Tensor whole = gpu.forward(ids);
    REQUIRE(whole.device().is_cpu());
    CHECK(max_rel_diff(whole, cpu.forward(ids)) < 1e-4);
    check_decodes_as_it_scores(gpu, ids, whole, {1, 5, 21});
  }
}

TEST_CASE("language models: a checkpoint that does not match its config names the tensor", "[lm][model]") {
  auto load = [](const std::string& name, const std::function<void(nlohmann::json&)>& edit) {
    return LanguageModel::load(edited_copy(name, edit));
  };
  CHECK_THROWS_WITH(load("hf/mamba", [](auto& c) { c["num_hidden_layers"] = 3; }),
                    Catch::Contains("'backbone.layers.2.mixer.in_proj.weight' is missing (expected shape [256, 64])"));
  CHECK_THROWS_WITH(load("hf/mamba", [](auto& c) { c["num_hidden_layers"] = 1; }),
                    Catch::Contains("that the config does not account for: backbone.layers.1."));
  CHECK_THROWS_WITH(load("hf/mamba", [](auto& c) { c["state_size"] = 8; }),
                    Catch::Contains("'backbone.layers.0.mixer.x_proj.weight': expected shape [24, 128], found [40, 128]"));
  CHECK_THROWS_WITH(load("hf/mamba", [](auto& c) { c["model_type"] = "mamba2"; }), Catch::Contains("missing key 'num_heads'"));
  CHECK_THROWS_WITH(load("hf/mamba", [](auto& c) { c["model_type"] = "llama"; }),
                    Catch::Contains("model_type 'llama': expected one of delta_net, gated_deltanet, gla, jamba, mamba, "
                                    "mamba2, recurrent_gemma, retnet, rwkv, rwkv6, rwkv7, subq_hybrid"));
  CHECK_THROWS_WITH(load("hf/mamba", [](auto& c) { c.erase("hidden_size"); }), Catch::Contains("missing key 'hidden_size'"));
  CHECK_THROWS_WITH(load("hf/mamba2", [](auto& c) { c["n_groups"] = 1; }),
                    Catch::Contains("backbone.layers.0.mixer.in_proj.weight") && Catch::Contains("[296, 64]"));
  CHECK_THROWS_WITH(load("hf/mamba2", [](auto& c) { c["head_dim"] = 8; }),
                    Catch::Contains("num_heads * head_dim = 8 * 8 must equal expand * hidden_size = 128"));
  CHECK_THROWS_WITH(load("hf/mamba2", [](auto& c) { c["conv_kernel"] = 3; }),
                    Catch::Contains("'backbone.layers.0.mixer.conv1d.weight': expected shape [192, 1, 3], found [192, 1, 4]"));
  CHECK_THROWS_WITH(load("hf/rwkv4", [](auto& c) { c["intermediate_size"] = 128; }),
                    Catch::Contains("'rwkv.blocks.0.feed_forward.key.weight': expected shape [128, 64], found [256, 64]"));
  CHECK_THROWS_WITH(load("fla/retnet", [](auto& c) { c["use_short_conv"] = true; }),
                    Catch::Contains("use_short_conv: a short convolution on q, k, v is not supported"));
  CHECK_THROWS_WITH(load("fla/rwkv6", [](auto& c) { c["expand_k"] = 1.0; }),
                    Catch::Contains("model.layers.0.attn.r_proj.linear.weight': expected shape [128, 128], found [64, 128]"));
  CHECK_THROWS_WITH(load("fla/rwkv7", [](auto& c) { c["value_dim"] = {128}; }), Catch::Contains("value_dim: expected 2 entries, found 1"));
}

TEST_CASE("language models: token ids outside the vocabulary are an error", "[lm][model]") {
  const LanguageModel model = LanguageModel::load(fixture("hf/mamba"));
  const Tensor ids = Tensor::from_vector<std::int64_t>({1, 2, 256}, {1, 3});
  CHECK_THROWS_WITH(model.forward(ids), Catch::Contains("id 256 at position 2 is outside the vocabulary [0, 256)"));
  CHECK_THROWS_WITH(model.forward(Tensor::zeros({1, 0}, DType::I64)), Catch::Contains("expected (batch, length >= 1) int64"));
  ModelCache cache;
  CHECK_THROWS_WITH(model.prefill(Tensor::zeros({1, 0}, DType::I64), cache),
                    Catch::Contains("expected (batch, length >= 1) int64"));
  CHECK_THROWS_WITH(model.prefill(ids, cache), Catch::Contains("id 256 at position 2 is outside the vocabulary"));
}

TEST_CASE("language models: the tiny trained Jamba decodes as it scores", "[lm][model]") {
  // tests/data/tiny-jamba-moby: a byte-level Jamba (7 Mamba layers, 1 attention layer, experts every
  // other layer). On a window of text its logits are finite and token-by-token decoding through
  // the Mamba states and the attention KV cache gives the parallel logits.
  const LanguageModel model = LanguageModel::load(source_dir() / "tests/data/tiny-jamba-moby");
  REQUIRE(model.architecture() == "jamba");
  const std::string text = "Call me Ishmael. Some years ago, never mind how long precisely, having little money";
  std::vector<std::int64_t> bytes(text.begin(), text.end());
  const Tensor ids = Tensor::from_vector(bytes, {1, std::int64_t(bytes.size())});
  const Tensor whole = model.forward(ids);
  CHECK(non_finite_count(whole) == 0);
  ModelCache cache;
  CHECK(max_rel_diff(model.forward(ids.slice(1, 0, 10).contiguous(), &cache), whole.slice(1, 0, 10)) < 1e-5);
  for (std::int64_t t = 10; t < ids.size(1); ++t) {
    INFO("position " << t);
    CHECK(max_rel_diff(model.step(ids.select(1, t).contiguous(), cache), whole.select(1, t)) < 1e-5);
  }
}

TEST_CASE("language models: a described hybrid with random weights, saved and loaded back", "[lm][model]") {
  const fs::path dir = fs::temp_directory_path() / "subq_test_random_hybrid";
  const LanguageModel model = random_example("hybrid_8_layers.json", 7, dir);
  const std::string spec = example("hybrid_8_layers.json");
  REQUIRE(model.architecture() == "subq_hybrid");
  const Tensor ids = Tensor::from_vector<std::int64_t>({72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100}, {1, 12});
  const Tensor logits = model.forward(ids);
  CHECK(non_finite_count(logits) == 0);
  // The folder holds exactly what the loader reads: the same logits come back.
  CHECK(max_rel_diff(LanguageModel::load(dir).forward(ids), logits) == 0);
  ModelCache cache;
  model.forward(ids.slice(1, 0, 4).contiguous(), &cache);
  for (std::int64_t t = 4; t < 12; ++t)
    CHECK(max_rel_diff(model.step(ids.select(1, t).contiguous(), cache), logits.select(1, t)) < 1e-5);
  // With rotary positions in the attention layers, decoding still follows the parallel pass.
  std::string rotary_spec = spec;
  rotary_spec.insert(rotary_spec.find('{') + 1, "\"rope_theta\": 10000.0,");
  const LanguageModel rotary = LanguageModel::random(rotary_spec, 7);
  const Tensor rotary_logits = rotary.forward(ids);
  CHECK(max_rel_diff(rotary_logits, logits) > 1e-4);  // same weights, positions now matter
  ModelCache rotary_cache;
  rotary.forward(ids.slice(1, 0, 5).contiguous(), &rotary_cache);
  for (std::int64_t t = 5; t < 12; ++t)
    CHECK(max_rel_diff(rotary.step(ids.select(1, t).contiguous(), rotary_cache), rotary_logits.select(1, t)) < 1e-5);
  // Patterns are checked.
  std::string bad_spec = spec;
  bad_spec.replace(bad_spec.find("MMMAMMMA"), 8, "MM?AMMMA");
  CHECK_THROWS_WITH(LanguageModel::random(bad_spec, 1),
                    Catch::Contains("layer_pattern 'MM?AMMMA': expected letters A (attention), M (Mamba), S (Mamba-2), "
                                    "R (RetNet), H (Hyena), K (RWKV-4), W (RWKV-6), V (RWKV-7), 4 (S4D), L (GLA), "
                                    "N (DeltaNet), G (Gated DeltaNet), U (Griffin RG-LRU), O (local attention), "
                                    "B (BASED) or X (mLSTM)"));
}

TEST_CASE("language models: a hybrid of every mixer the patterns take decodes as it scores", "[lm][model]") {
  const fs::path dir = fs::temp_directory_path() / "subq_test_all_mixers";
  const LanguageModel model = random_example("hybrid_all_mixers.json", 11, dir);
  std::vector<std::int64_t> text;
  for (const char c : std::string("Call me Ishmael. Some years ago, never mind how long")) text.push_back(c);
  const Tensor ids = Tensor::from_vector<std::int64_t>(text, {1, std::int64_t(text.size())});
  const Tensor logits = model.forward(ids);
  CHECK(non_finite_count(logits) == 0);
  CHECK(max_rel_diff(LanguageModel::load(dir).forward(ids), logits) == 0);
  // Prompts within, at and across the Mamba-2 chunks of 16.
  check_decodes_as_it_scores(model, ids, logits, {1, 16, 21});
  // Each mixer's tensors are where the pattern says.
  const SafetensorsFile saved = SafetensorsFile::open(dir / "model.safetensors");
  CHECK(saved.contains("model.layers.0.mamba.A_log"));
  CHECK(saved.contains("model.layers.2.mamba2.A_log"));
  CHECK(saved.contains("model.layers.3.retention.g_norm.weight"));
  CHECK(saved.contains("model.layers.4.hyena.filter_fn.pos_emb.z"));
  CHECK(saved.contains("model.layers.5.rwkv6.bonus"));
  // The first RWKV-7 layer gives the value residual, the second mixes toward it.
  CHECK(!saved.contains("model.layers.1.rwkv7.v_lora.lora.0.weight"));
  CHECK(saved.contains("model.layers.6.rwkv7.v_lora.lora.0.weight"));
  CHECK(saved.contains("model.layers.7.s4.layer.kernel.A_real"));
  CHECK(saved.contains("model.layers.8.rwkv4.time_first"));
  CHECK(saved.contains("model.layers.9.self_attn.q_proj.weight"));
  CHECK(saved.contains("model.layers.10.gla.gk_proj.1.bias"));
  CHECK(saved.contains("model.layers.11.delta_net.q_conv1d.weight"));
  CHECK(!saved.contains("model.layers.11.delta_net.g_proj.weight"));  // DeltaNet's default: no output gate
  CHECK(saved.contains("model.layers.12.gated_deltanet.A_log"));
  CHECK(saved.info("model.layers.12.gated_deltanet.q_proj.weight").shape == Shape{64, 128});   // 2 query heads of 32
  CHECK(saved.info("model.layers.12.gated_deltanet.v_proj.weight").shape == Shape{256, 128});  // 4 value heads of 64
  CHECK(saved.contains("model.layers.13.griffin.rg_lru.a_gate.w"));
  CHECK(saved.contains("model.layers.14.local_attn.q_proj.weight"));
  CHECK(saved.info("model.layers.15.based.q_proj.weight").shape == Shape{32, 128});   // 4 heads of 8 features
  CHECK(saved.info("model.layers.16.mlstm.q_proj.weight").shape == Shape{64, 4, 4});  // inner 256 in blocks of 4
}

// [long]: it makes the 17-layer hybrid's random weights 15 times.
TEST_CASE("language models: a hybrid's mixer sizes that do not fit are named", "[lm][model][long]") {
  const nlohmann::json base = nlohmann::json::parse(example("hybrid_all_mixers.json"));
  auto refused = [&](const char* key, const nlohmann::json& value) {
    nlohmann::json spec = base;
    spec[key] = value;
    return [spec] { LanguageModel::random(spec.dump(), 1); };
  };
  CHECK_THROWS_WITH(refused("mamba2_n_groups", 3)(), Catch::Contains("mamba2_num_heads 8 must be a positive multiple of mamba2_n_groups 3"));
  CHECK_THROWS_WITH(refused("retention_num_heads", 3)(), Catch::Contains("retention_num_heads 3 must divide the key width 128"));
  CHECK_THROWS_WITH(refused("rwkv6_num_heads", 3)(), Catch::Contains("rwkv6_num_heads 3 must divide the key width 64"));
  CHECK_THROWS_WITH(refused("rwkv7_head_dim", 48)(), Catch::Contains("rwkv7_head_dim 48 must divide hidden_size 128"));
  CHECK_THROWS_WITH(refused("rwkv7_v_low_rank_dim", 0)(), Catch::Contains("the rwkv7 LoRA ranks must be > 0"));
  CHECK_THROWS_WITH(refused("s4_d_state", 1)(), Catch::Contains("s4_d_state must be >= 2"));
  CHECK_THROWS_WITH(refused("s4_disc", "euler")(), Catch::Contains("euler"));
  CHECK_THROWS_WITH(refused("hyena_order", 1)(), Catch::Contains("order must be >= 2, found 1"));
  CHECK_THROWS_WITH(refused("gla_num_heads", 3)(), Catch::Contains("3 heads must divide the key width 64"));
  CHECK_THROWS_WITH(refused("delta_net_num_heads", 3)(), Catch::Contains("3 heads do not divide the key width 128"));
  CHECK_THROWS_WITH(refused("gated_deltanet_num_heads", 3)(), Catch::Contains("4 value heads over 3 heads"));
  CHECK_THROWS_WITH(refused("griffin_num_heads", 3)(),
                    Catch::Contains("griffin_num_heads 3 must divide griffin_lru_width 128"));
  CHECK_THROWS_WITH(refused("local_attention_window", 0)(),
                    Catch::Contains("local_attention_window: expected >= 1 keys, found 0"));
  CHECK_THROWS_WITH(refused("based_num_heads", 3)(), Catch::Contains("based_num_heads 3 must divide hidden_size 128"));
  CHECK_THROWS_WITH(refused("mlstm_num_heads", 3)(),
                    Catch::Contains("inner width 256 must be a multiple of mlstm_num_heads 3"));
}

TEST_CASE("language models: a decoding step reads every weight but the experts a token skips", "[lm][model]") {
  // examples/hybrid_8_layers.json: tied embeddings (the head reads them), 4 expert layers of 4
  // SwiGLU experts (128 -> 256) with top 2: each step leaves 2 experts of each unread.
  const fs::path dir = fs::temp_directory_path() / "subq_test_decode_bytes";
  const LanguageModel model = random_example("hybrid_8_layers.json", 4, dir);
  const SafetensorsFile saved = SafetensorsFile::open(dir / "model.safetensors");
  std::int64_t total = 0;
  for (const std::string& name : saved.names()) total += std::int64_t(saved.info(name).end - saved.info(name).begin);
  const std::int64_t expert = 3 * 128 * 256 * 4;
  CHECK(model.decode_weight_bytes() == total - 4 * 2 * expert);
}

TEST_CASE("language models: an fla RWKV-7 config alone sizes a random model as fla does", "[lm][model]") {
  // The fixture's config gives its LoRA ranks and leaves intermediate_size null (hidden_ratio 4):
  // a model made from the config alone has the trained checkpoint's tensors, shape for shape.
  const fs::path dir = fs::temp_directory_path() / "subq_test_rwkv7_sizes";
  fs::remove_all(dir);
  LanguageModel::random(file_text(fixture("fla/rwkv7") / "config.json"), 2, dir);
  const SafetensorsFile made = SafetensorsFile::open(dir / "model.safetensors"),
                        trained = SafetensorsFile::open(fixture("fla/rwkv7") / "model.safetensors");
  std::vector<std::string> made_names = made.names(), trained_names = trained.names();
  std::sort(made_names.begin(), made_names.end());
  std::sort(trained_names.begin(), trained_names.end());
  CHECK(made_names == trained_names);
  for (const std::string& name : trained_names) {
    INFO(name);
    CHECK(made.info(name).shape == trained.info(name).shape);
  }
}

TEST_CASE("language models: a fresh model's norms start at one, whatever their names", "[lm][model]") {
  // Every normalisation's scale these architectures name: norm_f, input_layernorm, g_norm,
  // dt_layernorm, ln1, pre_ln, ...
  const std::regex norm_scale(R"((norm|ln)[a-z0-9_]*\.weight$)");
  for (const fs::path& config :
       {fixture("hf/mamba") / "config.json", fixture("hf/mamba2") / "config.json", fixture("hf/rwkv4") / "config.json",
        fixture("hf/jamba") / "config.json", source_dir() / "examples/hybrid_all_mixers.json"}) {
    INFO(config.string());
    const fs::path dir = fs::temp_directory_path() / "subq_test_fresh_norms";
    fs::remove_all(dir);
    LanguageModel::random(file_text(config), 3, dir);
    const SafetensorsFile saved = SafetensorsFile::open(dir / "model.safetensors");
    int norms = 0;
    for (const std::string& name : saved.names()) {
      if (!std::regex_search(name, norm_scale)) continue;
      INFO(name);
      ++norms;
      const Tensor t = saved.get(name, DType::F32).contiguous();
      for (std::int64_t i = 0; i < t.numel(); ++i) REQUIRE(t.data<float>()[i] == 1.0f);
    }
    CHECK(norms >= 3);
  }
}

TEST_CASE("language models: heads the CUDA kernels cannot take are refused when the model is loaded",
          "[lm][model][cuda]") {
  SUBQ_SKIP_WITHOUT_CUDA();
  // RWKV-7 heads of 512 keys and attention heads of 300: the kernels hold up to 256 of each.
  const fs::path dir = fs::temp_directory_path() / "subq_test_wide_heads";
  fs::remove_all(dir);
  LanguageModel::random(R"({"model_type": "subq_hybrid", "vocab_size": 16, "hidden_size": 600, "intermediate_size": 8,
      "layer_pattern": "AV", "num_attention_heads": 2, "rwkv7_head_dim": 300, "rwkv7_decay_low_rank_dim": 2,
      "rwkv7_v_low_rank_dim": 2, "rwkv7_a_low_rank_dim": 2, "rwkv7_gate_low_rank_dim": 2})",
                        1, dir);
  CHECK_THROWS_WITH(
      LanguageModel::load(dir, Device::cuda()),
      Catch::Contains("model.layers.0.self_attn.: attention heads of 300 on cuda:0: the CUDA kernel takes "
                      "head sizes up to 256"));
  std::ifstream in(dir / "config.json");
  nlohmann::json config = nlohmann::json::parse(in);
  config["layer_pattern"] = "VA";
  std::ofstream(dir / "config.json") << config.dump();
  fs::remove(dir / "model.safetensors");
  LanguageModel::random(config.dump(), 1, dir);
  CHECK_THROWS_WITH(LanguageModel::load(dir, Device::cuda()),
                    Catch::Contains("model.layers.0.rwkv7.: heads of d_k 300 and d_v 300 on cuda:0: the CUDA kernels "
                                    "take d_k up to 256 and d_v up to 1024"));
  CHECK_NOTHROW(LanguageModel::load(dir));  // the CPU takes any
}

TEST_CASE("language models: prefill gives the last position's logits and the state forward leaves", "[lm][model]") {
  for (const std::string name : {"hf/mamba", "hf/jamba", "fla/rwkv7"}) {
    INFO(name);
    const LanguageModel model = LanguageModel::load(fixture(name));
    const Tensor ids = SafetensorsFile::open(fixture(name) / "io.safetensors").get("input_ids").contiguous().clone();
    const std::int64_t L = ids.size(1), prompt = L - 3;
    const Tensor whole = model.forward(ids);
    ModelCache cache;
    CHECK(max_rel_diff(model.prefill(ids.slice(1, 0, prompt).contiguous(), cache), whole.select(1, prompt - 1)) < 1e-5);
    CHECK(cache.position == prompt);
    for (std::int64_t t = prompt; t < L; ++t)
      CHECK(max_rel_diff(model.step(ids.select(1, t).contiguous(), cache), whole.select(1, t)) < 1e-5);
  }
}

TEST_CASE("language models: fla's GLA, DeltaNet and Gated DeltaNet configs make models that save, load and decode",
          "[lm][model]") {
  // fla's config keys (their defaults where left out); Gated DeltaNet with grouped values.
  const std::string common = R"("vocab_size": 64, "hidden_size": 64, "num_hidden_layers": 2, "norm_eps": 1e-6,
                                "hidden_ratio": 4, "intermediate_size": null, "attn": null, "hidden_act": "swish")";
  const std::pair<std::string, std::string> configs[] = {
      {"gla", R"("num_heads": 2, "expand_k": 0.5, "expand_v": 1, "gate_low_rank_dim": 8)"},
      {"delta_net", R"("num_heads": 2, "use_gate": false, "use_short_conv": true, "conv_size": 4)"},
      {"gated_deltanet", R"("num_heads": 2, "head_dim": 16, "num_v_heads": 4, "expand_v": 2, "use_gate": true)"},
  };
  std::vector<std::int64_t> text;
  for (const char c : std::string("Call me Ishmael. Some years ago")) text.push_back(c % 64);
  const Tensor ids = Tensor::from_vector<std::int64_t>(text, {1, std::int64_t(text.size())});
  for (const auto& [type, keys] : configs) {
    INFO(type);
    const fs::path dir = fs::temp_directory_path() / ("subq_test_fla_" + type);
    fs::remove_all(dir);
    const std::string config = "{\"model_type\": \"" + type + "\", " + common + ", " + keys + "}";
    const LanguageModel model = LanguageModel::random(config, 3, dir);
    const Tensor logits = model.forward(ids);
    CHECK(max_rel_diff(LanguageModel::load(dir).forward(ids), logits) == 0);
    // The MLP is fla's GatedMLP width: 2/3 of 4 x 64, rounded up to 256.
    CHECK(SafetensorsFile::open(dir / "model.safetensors").info("model.layers.1.mlp.gate_proj.weight").shape ==
          Shape{256, 64});
    check_decodes_as_it_scores(model, ids, logits, {1, 16, 21});
  }
  const std::string conv_free =
      "{\"model_type\": \"delta_net\", " + common + R"(, "num_heads": 2, "use_short_conv": false})";
  CHECK_THROWS_WITH(LanguageModel::random(conv_free, 1),
                    Catch::Contains("use_short_conv: a layer without its short convolutions is not supported"));
}

TEST_CASE("language models: a RecurrentGemma config makes a model that saves, loads and decodes", "[lm][model]") {
  const std::string config = recurrent_gemma_config();
  const fs::path dir = fs::temp_directory_path() / "subq_test_recurrent_gemma";
  fs::remove_all(dir);
  const LanguageModel model = LanguageModel::random(config, 5, dir);
  std::vector<std::int64_t> text;
  for (const char c : std::string("Call me Ishmael. Some years ago")) text.push_back(c % 64);
  const Tensor ids = Tensor::from_vector<std::int64_t>(text, {1, std::int64_t(text.size())});
  const Tensor logits = model.forward(ids);
  CHECK(max_rel_diff(LanguageModel::load(dir).forward(ids), logits) == 0);
  check_decodes_as_it_scores(model, ids, logits, {1, 16, 21});
  // transformers' names; the MLP is half of intermediate_size wide; logits are capped at 30.
  const SafetensorsFile saved = SafetensorsFile::open(dir / "model.safetensors");
  CHECK(saved.contains("model.layers.0.temporal_block.rg_lru.recurrent_gate_weight"));
  CHECK(saved.info("model.layers.1.temporal_block.conv_1d.weight").shape == Shape{64, 1, 4});
  CHECK(saved.contains("model.layers.2.temporal_block.o_proj.bias"));
  CHECK(saved.info("model.layers.2.mlp_block.gate_proj.weight").shape == Shape{96, 64});
  double largest = 0;
  for (std::int64_t i = 0; i < logits.numel(); ++i)
    largest = std::max(largest, double(std::abs(logits.data<float>()[i])));
  CHECK(largest < 30);
  // What the loader does not take is named.
  nlohmann::json bad = nlohmann::json::parse(config);
  bad["block_types"] = {"recurrent", "mamba"};
  CHECK_THROWS_WITH(LanguageModel::random(bad.dump(), 1),
                    Catch::Contains("block_types: expected \"recurrent\" and \"attention\""));
  bad = nlohmann::json::parse(config);
  bad["attention_bias"] = true;
  CHECK_THROWS_WITH(LanguageModel::random(bad.dump(), 1),
                    Catch::Contains("attention_bias: biased q, k, v projections are not supported"));
  bad = nlohmann::json::parse(config);
  bad["rope_parameters"]["partial_rotary_factor"] = 0.3;
  CHECK_THROWS_WITH(LanguageModel::random(bad.dump(), 1), Catch::Contains("partial_rotary_factor 0.3 of heads of 16"));
}