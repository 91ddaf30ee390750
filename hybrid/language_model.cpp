#include "hybrid/language_model.hpp"

#include <map>

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

LanguageModel::LanguageModel(std::string architecture, std::unique_ptr<hybrid::Architecture> network)
    : architecture_(std::move(architecture)), network_(std::move(network)) {}
LanguageModel::~LanguageModel() = default;
LanguageModel::LanguageModel(LanguageModel&&) noexcept = default;
LanguageModel& LanguageModel::operator=(LanguageModel&&) noexcept = default;

LanguageModel LanguageModel::load(const std::filesystem::path& dir) {
  using Loader = std::unique_ptr<hybrid::Architecture> (*)(Checkpoint&);
  static const std::map<std::string, Loader> loaders = {
      {"jamba", &hybrid::load_jamba}, {"mamba", &hybrid::load_mamba}, {"mamba2", &hybrid::load_mamba2},
      {"retnet", &hybrid::load_retnet}, {"rwkv", &hybrid::load_rwkv4}, {"rwkv6", &hybrid::load_rwkv6},
      {"rwkv7", &hybrid::load_rwkv7},
  };
  Checkpoint checkpoint = Checkpoint::open(dir);
  const std::string type = checkpoint.config().get_string("model_type");
  const auto it = loaders.find(type);
  SUBQ_CHECK(it != loaders.end(), "{}: model_type '{}': expected one of jamba, mamba, mamba2, retnet, rwkv, rwkv6, rwkv7",
             checkpoint.config().source(), type);
  std::unique_ptr<hybrid::Architecture> network = it->second(checkpoint);
  checkpoint.finish();
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
  return logits;
}

Tensor LanguageModel::step(const Tensor& input_ids, ModelCache& cache) const {
  SUBQ_CHECK(input_ids.defined() && input_ids.dim() == 1, "{} model: step: input_ids: expected (batch), found {}",
             architecture_, input_ids.defined() ? to_string(input_ids.shape()) : "nothing");
  const std::int64_t batch = input_ids.size(0);
  return forward(input_ids.contiguous().view({batch, 1}), &cache).view({batch, vocab_size()});
}

}  // namespace subq
