// Conformance runner for model cases (hf/*, fla/*): a checkpoint and input_ids -> logits.
#include "core/check.hpp"
#include "hybrid/language_model.hpp"
#include "tools/check/runners.hpp"

namespace subq::hybrid {

check::Outputs run_language_model_case(const check::Case& c, Device device) {
  const LanguageModel model = LanguageModel::load(c.dir, device);
  SUBQ_CHECK(model.architecture() == c.key, "{}: meta.json says {} but config.json says {}", c.name, c.key,
             model.architecture());
  return {{"logits", model.forward(c.io.get("input_ids"))}};
}

}  // namespace subq::hybrid
