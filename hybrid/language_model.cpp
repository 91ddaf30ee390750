#include "hybrid/language_model.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "core/check.hpp"
#include "hybrid/architecture.hpp"

namespace subq {

namespace hybrid {

Tensor output_head(Checkpoint& checkpoint, const std::string& name, const Tensor& embeddings, bool tied) {
  const bool stored = checkpoint.contains(name) || !tied;
  const Tensor head = stored ? checkpoint.take(name, embeddings.shape()) : Tensor{};
  return tied ? embeddings : head;
}

}  // namespace hybrid

namespace {

using Loader = std::unique_ptr<hybrid::Architecture> (*)(Checkpoint&);

Loader find_loader(const JsonConfig& config, std::string* type) {
  static const std::map<std::string, Loader> loaders = {
      {"jamba", &hybrid::load_jamba},   {"mamba", &hybrid::load_mamba}, {"mamba2", &hybrid::load_mamba2},
      {"retnet", &hybrid::load_retnet}, {"rwkv", &hybrid::load_rwkv4},  {"rwkv6", &hybrid::load_rwkv6},
      {"rwkv7", &hybrid::load_rwkv7},   {"subq_hybrid", &hybrid::load_jamba},
  };
  *type = config.get_string("model_type");
  const auto it = loaders.find(*type);
  SUBQ_CHECK(it != loaders.end(),
             "{}: model_type '{}': expected one of jamba, mamba, mamba2, retnet, rwkv, rwkv6, rwkv7, subq_hybrid",
             config.source(), *type);
  return it->second;
}

// The usual initialisation of these architectures, by tensor name: norms and D at one, biases
// at zero, A_log = log(1 .. N) (S4D-real), dt biases the inverse softplus of dt log-uniform in
// [1e-3, 1e-1]; Hyena's as safari's: positions t in [0, 1), sine frequencies 1, decay rates
// spread over [3, 15], a unit-scale positional embedding; S4D-Lin for S4 (A = -1/2 + i pi n,
// B = 1, C of unit scale, dt as Mamba's); every other weight normal with standard deviation 0.02.
Tensor initial_value(const std::string& name, const Shape& shape, std::mt19937_64& rng) {
  auto ends = [&](const char* suffix) {
    const std::string s(suffix);
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  Tensor t = Tensor::empty(shape, DType::F32);
  float* p = t.data<float>();
  const std::int64_t n = t.numel(), last = shape.empty() ? 1 : shape.back();
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::uniform_real_distribution<double> log_dt(std::log(1e-3), std::log(1e-1));
  for (std::int64_t i = 0; i < n; ++i) {
    if (ends("norm.weight") || ends(".D") || ends("layernorm.weight"))
      p[i] = 1.0f;
    else if (ends("pos_emb.t"))
      p[i] = float(i) / float(n);
    else if (ends(".freq"))
      p[i] = 1.0f;
    else if (ends("modulation.deltas"))
      p[i] = -float(3.0 + 12.0 * double(i) / double(std::max<std::int64_t>(n - 1, 1)));
    else if (ends("kernel.A_real"))
      p[i] = float(std::log(0.5));
    else if (ends("kernel.A_imag"))
      p[i] = float(M_PI * double(i % last));
    else if (ends("kernel.inv_dt"))
      p[i] = float(log_dt(rng));
    else if (ends("kernel.B"))
      p[i] = i % 2 == 0 ? 1.0f : 0.0f;  // (real, imaginary) pairs
    else if (ends("kernel.C"))
      p[i] = 35.0f * normal(rng);
    else if (ends("pos_emb.z"))
      p[i] = 50.0f * normal(rng);
    else if (ends("A_log"))
      p[i] = float(std::log(double(i % last + 1)));
    else if (ends("dt_proj.bias") || ends("dt_bias")) {
      const double dt = std::exp(log_dt(rng));
      p[i] = float(dt + std::log(-std::expm1(-dt)));
    } else if (ends(".bias"))
      p[i] = 0.0f;
    else
      p[i] = normal(rng);
  }
  return t;
}

}  // namespace

LanguageModel::LanguageModel(std::string architecture, std::unique_ptr<hybrid::Architecture> network)
    : architecture_(std::move(architecture)), network_(std::move(network)) {}
LanguageModel::~LanguageModel() = default;
LanguageModel::LanguageModel(LanguageModel&&) noexcept = default;
LanguageModel& LanguageModel::operator=(LanguageModel&&) noexcept = default;

LanguageModel LanguageModel::load(const std::filesystem::path& dir, Device device) {
  Checkpoint checkpoint = Checkpoint::open(dir);
  std::string type;
  const Loader loader = find_loader(checkpoint.config(), &type);
  if (device.is_cuda()) SUBQ_CHECK(cuda_available(), "{}: device {}: {}", dir.string(), to_string(device), cuda_status());
  checkpoint.place_on(device);
  std::unique_ptr<hybrid::Architecture> network = loader(checkpoint);
  checkpoint.finish();
  return LanguageModel(type, std::move(network));
}

LanguageModel LanguageModel::random(const std::string& config, std::uint64_t seed, const std::filesystem::path& save_to) {
  const JsonConfig parsed = JsonConfig::parse(config, "model config");
  std::string type;
  const Loader loader = find_loader(parsed, &type);
  std::mt19937_64 rng(seed);
  Checkpoint checkpoint =
      Checkpoint::generated(parsed, [&](const std::string& name, const Shape& shape) { return initial_value(name, shape, rng); });
  std::unique_ptr<hybrid::Architecture> network = loader(checkpoint);
  if (!save_to.empty()) checkpoint.save(save_to);
  return LanguageModel(type, std::move(network));
}

const std::string& LanguageModel::architecture() const { return architecture_; }
std::int64_t LanguageModel::vocab_size() const { return network_->vocab_size(); }

Tensor LanguageModel::forward(const Tensor& input_ids, ModelCache* cache) const {
  SUBQ_CHECK(input_ids.defined() && input_ids.dim() == 2 && input_ids.dtype() == DType::I64 && input_ids.size(1) >= 1 &&
                 input_ids.device().is_cpu(),
             "{} model: input_ids: expected (batch, length >= 1) int64 on the CPU, found {} {}", architecture_,
             input_ids.defined() ? dtype_name(input_ids.dtype()) : "nothing",
             input_ids.defined() ? to_string(input_ids.shape()) : "");
  Tensor logits = network_->forward(input_ids.contiguous(), cache);
  if (cache) cache->position += input_ids.size(1);
  return logits.to(Device::cpu());
}

Tensor LanguageModel::step(const Tensor& input_ids, ModelCache& cache) const {
  SUBQ_CHECK(input_ids.defined() && input_ids.dim() == 1, "{} model: step: input_ids: expected (batch), found {}",
             architecture_, input_ids.defined() ? to_string(input_ids.shape()) : "nothing");
  const std::int64_t batch = input_ids.size(0);
  return forward(input_ids.contiguous().view({batch, 1}), &cache).view({batch, vocab_size()});
}

}  // namespace subq
