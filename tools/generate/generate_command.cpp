#include "tools/generate/generate_command.hpp"

#include <cstdio>

#include "core/check.hpp"
#include "hybrid/generator.hpp"

namespace subq::tools {

int run_generate(const GenerateOptions& o) {
  const LanguageModel model = LanguageModel::load(o.model);
  SUBQ_CHECK(model.vocab_size() >= 256, "generate: {} has a vocabulary of {}: prompts are bytes (byte-level models)",
             o.model, model.vocab_size());
  SUBQ_CHECK(!o.prompt.empty(), "generate: the prompt is empty");
  std::vector<std::int64_t> prompt;
  for (const char c : o.prompt) prompt.push_back(static_cast<unsigned char>(c));
  std::fwrite(o.prompt.data(), 1, o.prompt.size(), stdout);
  std::fflush(stdout);
  const SamplingOptions sampling{o.temperature, o.top_k, o.top_p, o.seed};
  generate(model, prompt, o.max_tokens, sampling, [](std::int64_t token) {
    if (token < 256) std::fputc(int(token), stdout);  // byte tokens; ids beyond a byte have no text
    std::fflush(stdout);
  });
  std::fputc('\n', stdout);
  return 0;
}

}  // namespace subq::tools
