#include "tools/generate/generate_command.hpp"

#include <cstdio>
#include <filesystem>

#include "core/check.hpp"
#include "lm/generator.hpp"
#include "lm/tokenizer.hpp"

namespace subq::tools {

int run_generate(const GenerateOptions& o) {
  const LanguageModel model = LanguageModel::load(o.model, parse_device(o.device));
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
  generate(model, prompt, o.max_tokens, sampling, [&](std::int64_t token) {
    if (token < tokenizer.vocab_size()) {  // ids the tokenizer does not know (padding rows) have no text
      const std::string text = tokenizer.decode({token});
      std::fwrite(text.data(), 1, text.size(), stdout);
    }
    std::fflush(stdout);
  });
  std::fputc('\n', stdout);
  return 0;
}

}  // namespace subq::tools
