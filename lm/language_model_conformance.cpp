// Conformance runner for model cases (hf/*, fla/*): a checkpoint and input_ids -> logits.
#include "conformance/case.hpp"
#include "core/check.hpp"
#include "lm/language_model.hpp"

namespace subq::lm {

check::Outputs run_language_model_case(const check::Case& c, Device device) {
  const LanguageModel model = LanguageModel::load(c.dir, device, {.weights = c.weights});
  SUBQ_CHECK(model.architecture() == c.key, "{}: meta.json says {} but config.json says {}", c.name, c.key,
             model.architecture());
  return {{"logits", model.forward(c.io.get("input_ids"))}};
}

}  // namespace subq::lm
