#include "lm/language_model.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "core/atomic_file.hpp"
#include "core/check.hpp"
#include "core/memory.hpp"
#include "core/safetensors.hpp"
#include "lm/initialization.hpp"
#include "lm/stack.hpp"

namespace subq {

namespace {

using Loader = lm::Stack (*)(Checkpoint&);

// The architectures by config.json's model_type.
Loader find_loader(const JsonConfig& config, std::string* type) {
  static const std::map<std::string, Loader> loaders = {
      {"delta_net", &lm::load_delta_net},
      {"gated_deltanet", &lm::load_gated_deltanet},
      {"gla", &lm::load_gla},
      {"jamba", &lm::load_jamba},
      {"mamba", &lm::load_mamba},
      {"mamba2", &lm::load_mamba2},
      {"recurrent_gemma", &lm::load_recurrent_gemma},
      {"retnet", &lm::load_retnet},
      {"rwkv", &lm::load_rwkv4},
      {"rwkv6", &lm::load_rwkv6},
      {"rwkv7", &lm::load_rwkv7},
      {"subq_hybrid", &lm::load_hybrid_stack},
  };
  *type = config.get_string("model_type");
  const auto it = loaders.find(*type);
  SUBQ_CHECK(it != loaders.end(),
             "{}: model_type '{}': expected one of delta_net, gated_deltanet, gla, jamba, mamba, mamba2, "
             "recurrent_gemma, retnet, rwkv, rwkv6, rwkv7, subq_hybrid",
             config.source(), *type);
  return it->second;
}

// config.json of a checkpoint whose matrices are in `weights`: quantization_config names a q scheme.
std::string converted_config(const JsonConfig& config, DType weights) {
  nlohmann::json j = nlohmann::json::parse(config.dump());
  j.erase("quantization_config");
  if (is_quantized(weights))
    j["quantization_config"] = {{"quant_method", "subq"}, {"scheme", dtype_name(weights)}, {"block_size", 32}};
  return j.dump(2);
}

}  // namespace

std::int64_t convert_checkpoint(const std::filesystem::path& dir, const std::filesystem::path& out, DType weights) {
  namespace fs = std::filesystem;
  SUBQ_CHECK(fs::weakly_canonical(dir) != fs::weakly_canonical(out),
             "convert: {} is the checkpoint itself; write elsewhere", out.string());
  Checkpoint ck = Checkpoint::open(dir);
  ck.hold_matrices_as(weights);
  std::string type;
  const lm::Stack network = find_loader(ck.config(), &type)(ck);
  ck.finish();
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::int64_t bytes = 0;
  auto add = [&](const std::string& name, const Tensor& t) {
    tensors.emplace_back(name, t);
    bytes += std::int64_t(storage_bytes(t.dtype(), t.numel()));
  };
  const auto& matrices = ck.matrices();
  for (const std::string& name : ck.names()) {
    const auto m = matrices.find(name);
    if (m == matrices.end()) {
      const bool scales = name.ends_with(".scales") && matrices.count(name.substr(0, name.size() - 7));
      if (!scales) add(name, ck.stored(name));  // a quantised source's scales are rewritten with their codes
    } else if (is_quantized(m->second.dtype())) {
      const auto [codes, scales] = quantized_codes_and_scales(m->second);
      add(name, codes), add(name + ".scales", scales);
    } else {
      add(name, m->second);
    }
  }
  fs::create_directories(out);
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    const std::string file = e.path().filename().string();
    if (e.is_regular_file() && file != "config.json" && !file.starts_with("model.safetensors"))
      fs::copy_file(e.path(), out / file, fs::copy_options::overwrite_existing);
  }
  for (const fs::directory_entry& e : fs::directory_iterator(out))  // a sharded checkpoint written there before
    if (e.path().filename().string().starts_with("model.safetensors")) fs::remove(e.path());
  write_file_atomically(out / "config.json", converted_config(ck.config(), weights) + "\n");
  save_safetensors(out / "model.safetensors", tensors, {{"format", "pt"}});
  return bytes;
}

LanguageModel::LanguageModel(std::string architecture, std::unique_ptr<lm::Stack> network, std::int64_t weight_bytes)
    : architecture_(std::move(architecture)),
      network_(std::move(network)),
      weight_bytes_(weight_bytes),
      decode_weight_bytes_(weight_bytes - network_->unread_per_token_bytes()) {}
LanguageModel::~LanguageModel() = default;
LanguageModel::LanguageModel(LanguageModel&&) noexcept = default;
LanguageModel& LanguageModel::operator=(LanguageModel&&) noexcept = default;

namespace {

std::int64_t memory_limit(const LoadOptions& options) {
  if (options.max_memory) return *options.max_memory;
  const std::int64_t available = available_memory_bytes();
  return available > 0 ? available : std::numeric_limits<std::int64_t>::max();
}

}  // namespace

LanguageModel LanguageModel::load(const std::filesystem::path& dir, Device device, const LoadOptions& options) {
  Checkpoint checkpoint = Checkpoint::open(dir);
  checkpoint.hold_matrices_as(options.weights);
  const std::int64_t limit = memory_limit(options);
  check_memory(fmt::format("{}: the weights", dir.string()), checkpoint.estimated_bytes(), limit);
  checkpoint.limit_memory(limit);
  std::string type;
  const Loader loader = find_loader(checkpoint.config(), &type);
  if (device.is_cuda())
    SUBQ_CHECK(cuda_available(), "{}: device {}: {}", dir.string(), to_string(device), cuda_status());
  checkpoint.place_on(device);
  auto network = std::make_unique<lm::Stack>(loader(checkpoint));
  checkpoint.finish();
  return LanguageModel(type, std::move(network), checkpoint.taken_bytes());
}

LanguageModel LanguageModel::random(const std::string& config, std::uint64_t seed, const std::filesystem::path& save_to,
                                    const LoadOptions& options) {
  const JsonConfig parsed = JsonConfig::parse(config, "model config");
  std::string type;
  const Loader loader = find_loader(parsed, &type);
  Checkpoint checkpoint = Checkpoint::generated(parsed, lm::initial_weights(seed));
  checkpoint.hold_matrices_as(options.weights);
  checkpoint.limit_memory(memory_limit(options));
  auto network = std::make_unique<lm::Stack>(loader(checkpoint));
  if (!save_to.empty()) checkpoint.save(save_to);
  return LanguageModel(type, std::move(network), checkpoint.taken_bytes());
}

std::int64_t LanguageModel::estimate_forward_bytes(std::int64_t tokens) const {
  // Two lengths, so that what does not grow with the tokens (states, the FFT plans' buffers) is
  // not counted per token; 64 and 128 are short enough to cost little beside any real run.
  constexpr std::int64_t kShort = 64, kLong = 128;
  const auto peak_of = [&](std::int64_t length) {
    const Tensor ids = Tensor::zeros({1, length}, DType::I64);
    const std::int64_t before = host_bytes_in_use();
    reset_host_peak_bytes();
    forward(ids);
    return std::max<std::int64_t>(host_peak_bytes() - before, 0);
  };
  const std::int64_t at_short = peak_of(kShort), at_long = peak_of(kLong);
  const double per_token = std::max(0.0, double(at_long - at_short) / double(kLong - kShort));
  return std::int64_t(std::max<double>(double(at_long), double(at_short) + per_token * double(tokens - kShort)));
}

const std::string& LanguageModel::architecture() const { return architecture_; }
std::int64_t LanguageModel::vocab_size() const { return network_->vocab_size(); }
std::int64_t LanguageModel::decode_weight_bytes() const { return decode_weight_bytes_; }
std::int64_t LanguageModel::weight_bytes() const { return weight_bytes_; }

Tensor LanguageModel::forward(const Tensor& input_ids, ModelCache* cache) const { return run(input_ids, cache, false); }

Tensor LanguageModel::prefill(const Tensor& input_ids, ModelCache& cache) const {
  return run(input_ids, &cache, true).select(1, 0);
}

Tensor LanguageModel::run(const Tensor& input_ids, ModelCache* cache, bool last_only) const {
  SUBQ_CHECK(input_ids.defined() && input_ids.dim() == 2 && input_ids.dtype() == DType::I64 && input_ids.size(1) >= 1 &&
                 input_ids.device().is_cpu(),
             "{} model: input_ids: expected (batch, length >= 1) int64 on the CPU, found {} {}", architecture_,
             input_ids.defined() ? dtype_name(input_ids.dtype()) : "nothing",
             input_ids.defined() ? to_string(input_ids.shape()) : "");
  Tensor logits = network_->forward(input_ids.contiguous(), cache, last_only);
  if (cache) cache->position += input_ids.size(1);
  return logits.to(Device::cpu());
}

Tensor LanguageModel::forward_packed(const Tensor& input_ids, std::span<const std::int64_t> lengths) const {
  SUBQ_CHECK(
      input_ids.defined() && input_ids.dim() == 1 && input_ids.dtype() == DType::I64 && input_ids.device().is_cpu(),
      "{} model: forward_packed: input_ids: expected (total) int64 on the CPU, found {} {}", architecture_,
      input_ids.defined() ? dtype_name(input_ids.dtype()) : "nothing",
      input_ids.defined() ? to_string(input_ids.shape()) : "");
  const Packing packing({lengths.begin(), lengths.end()});
  SUBQ_CHECK(packing.total() == input_ids.size(0),
             "{} model: forward_packed: the {} lengths sum to {}, but input_ids holds {} tokens", architecture_,
             lengths.size(), packing.total(), input_ids.size(0));
  const Tensor ids = input_ids.contiguous().view({1, packing.total()});
  return network_->forward_packed(ids, packing).to(Device::cpu()).view({packing.total(), vocab_size()});
}

Tensor LanguageModel::step(const Tensor& input_ids, ModelCache& cache) const {
  SUBQ_CHECK(input_ids.defined() && input_ids.dim() == 1, "{} model: step: input_ids: expected (batch), found {}",
             architecture_, input_ids.defined() ? to_string(input_ids.shape()) : "nothing");
  const std::int64_t batch = input_ids.size(0);
  return forward(input_ids.contiguous().view({batch, 1}), &cache).view({batch, vocab_size()});
}

}  // namespace subq
