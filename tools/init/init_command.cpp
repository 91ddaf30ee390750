#include "tools/init/init_command.hpp"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "core/check.hpp"
#include "lm/language_model.hpp"
#include "tools/load_options.hpp"

namespace subq::tools {

int run_init(const InitOptions& o) {
  std::ifstream in(o.config);
  SUBQ_CHECK(in.good(), "{}: cannot open", o.config);
  std::stringstream text;
  text << in.rdbuf();
  const LanguageModel model = LanguageModel::random(text.str(), o.seed, o.out, load_options("f32", o.max_memory));
  fmt::print("wrote {}: a {} model, vocabulary {}, seed {}\n", o.out, model.architecture(), model.vocab_size(), o.seed);
  return 0;
}

}  // namespace subq::tools
