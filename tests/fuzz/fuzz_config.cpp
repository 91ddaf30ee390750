// libFuzzer target: any byte string given as a config.json either is rejected with subq::Error
// (a bad or unsupported key, sizes that do not fit, weights over the memory limit) or makes a
// model with random weights that runs two tokens to finite logits of the vocabulary's width.
// Every model type's reader is reached through model_type; sizes that overflow or would allocate
// terabytes must be refused, not crash.
#include <cmath>
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "lm/language_model.hpp"

namespace {

// Weights beyond this are refused (LoadOptions::max_memory): the fuzzer's inputs stay fast.
constexpr std::int64_t kMaxWeightBytes = std::int64_t(4) << 20;

void run_two_tokens(const subq::LanguageModel& model) {
  const std::int64_t vocab = model.vocab_size();
  const subq::Tensor ids = subq::Tensor::from_vector<std::int64_t>({0, vocab - 1}, {1, 2});
  const subq::Tensor logits = model.forward(ids);
  if (logits.shape() != subq::Shape{1, 2, vocab}) __builtin_trap();
  for (std::int64_t i = 0; i < logits.numel(); ++i)
    if (!std::isfinite(logits.data<float>()[i])) __builtin_trap();  // random weights of a fresh model
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string config(reinterpret_cast<const char*>(data), size);
  try {
    const subq::LanguageModel model = subq::LanguageModel::random(config, 1, {}, {.max_memory = kMaxWeightBytes});
    run_two_tokens(model);
  } catch (const subq::Error&) {
  }
  return 0;
}
