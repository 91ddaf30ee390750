#include "ssm/ssm_model.hpp"

#include "core/check.hpp"
#include "ssm/backbone.hpp"

namespace subq::ssm {

struct SsmModel::Impl {
  std::string architecture;
  LoadedMixers loaded;
  Backbone backbone;
};

SsmModel::SsmModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SsmModel::~SsmModel() = default;
SsmModel::SsmModel(SsmModel&&) noexcept = default;
SsmModel& SsmModel::operator=(SsmModel&&) noexcept = default;

SsmModel SsmModel::load(const std::filesystem::path& dir) {
  Checkpoint ck = Checkpoint::open(dir);
  auto impl = std::make_unique<Impl>();
  impl->architecture = ck.config().get_string("model_type");
  if (impl->architecture == "mamba")
    impl->loaded = load_mamba_mixers(ck);
  else if (impl->architecture == "mamba2")
    impl->loaded = load_mamba2_mixers(ck);
  else
    SUBQ_FAIL("{}: model_type '{}': expected mamba or mamba2", ck.config().source(), impl->architecture);
  impl->backbone = Backbone::load(ck, impl->loaded.sizes);
  ck.finish();
  return SsmModel(std::move(impl));
}

const std::string& SsmModel::architecture() const { return impl_->architecture; }
std::int64_t SsmModel::vocab_size() const { return impl_->loaded.sizes.vocab; }

Tensor SsmModel::forward(const Tensor& input_ids, SsmCache* cache) const {
  return impl_->backbone.forward(input_ids, *impl_->loaded.mixers, cache);
}

Tensor SsmModel::step(const Tensor& input_ids, SsmCache& cache) const {
  SUBQ_CHECK(input_ids.defined() && input_ids.dim() == 1, "SsmModel::step: input_ids: expected (batch), found {}",
             input_ids.defined() ? to_string(input_ids.shape()) : "nothing");
  const std::int64_t batch = input_ids.size(0);
  return forward(input_ids.contiguous().view({batch, 1}), &cache).view({batch, vocab_size()});
}

}  // namespace subq::ssm
