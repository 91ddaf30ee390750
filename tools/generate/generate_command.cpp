#include "tools/generate/generate_command.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "core/check.hpp"
#include "lm/generator.hpp"
#include "lm/tokenizer.hpp"
#include "tools/load_options.hpp"

namespace subq::tools {

int run_generate(const GenerateOptions& o) {
  const LanguageModel model = LanguageModel::load(o.model, parse_device(o.device), load_options(o.dtype, o.max_memory));
  SUBQ_CHECK(!o.prompt.empty(), "generate: the prompt is empty");
  // The checkpoint's tokenizer.json when it has one, else bytes.
  const std::filesystem::path file = !o.tokenizer.empty() ? std::filesystem::path(o.tokenizer)
                                                          : std::filesystem::path(o.model) / "tokenizer.json";
  const bool has_file = !o.tokenizer.empty() || std::filesystem::exists(file);
  const Tokenizer tokenizer = has_file ? Tokenizer::load(file) : Tokenizer::bytes();
  SUBQ_CHECK(tokenizer.vocab_size() <= model.vocab_size(), "generate: the tokenizer has {} tokens but the model only {}",
             tokenizer.vocab_size(), model.vocab_size());
  const std::vector<std::int64_t> prompt = tokenizer.encode(o.prompt);
  std::fwrite(o.prompt.data(), 1, o.prompt.size(), stdout);
  std::fflush(stdout);
  const SamplingOptions sampling{o.temperature, o.top_k, o.top_p, o.seed};
  // The first token comes when the prompt has run; each later one is a decoding step.
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  Clock::time_point first, last;
  std::int64_t produced = 0;
  generate(model, prompt, o.max_tokens, sampling, [&](std::int64_t token) {
    last = Clock::now();
    if (produced++ == 0) first = last;
    if (token < tokenizer.vocab_size()) {  // ids the tokenizer does not know (padding rows) have no text
      const std::string text = tokenizer.decode({token});
      std::fwrite(text.data(), 1, text.size(), stdout);
    }
    std::fflush(stdout);
  });
  std::fputc('\n', stdout);
  std::fflush(stdout);
  auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  if (produced > 0)
    std::fprintf(stderr, "prefill: %zu tokens in %.3f s (%.0f tok/s)", prompt.size(), seconds(first - start),
                 double(prompt.size()) / seconds(first - start));
  if (produced > 1)
    std::fprintf(stderr, "; decode: %lld tokens at %.1f tok/s", (long long)(produced - 1),
                 double(produced - 1) / seconds(last - first));
  std::fputc('\n', stderr);
  return 0;
}

}  // namespace subq::tools
