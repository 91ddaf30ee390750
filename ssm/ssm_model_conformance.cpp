// Conformance runner for hf/mamba and hf/mamba2: a Hugging Face checkpoint and input_ids -> logits.
#include "core/check.hpp"
#include "ssm/ssm_model.hpp"
#include "tools/check/runners.hpp"

namespace subq::ssm {

check::Outputs run_ssm_model_case(const check::Case& c, Device device) {
  SUBQ_CHECK(device.is_cpu(), "{}: Mamba and Mamba-2 models run on the CPU only", c.name);
  const SsmModel model = SsmModel::load(c.dir);
  SUBQ_CHECK(model.architecture() == c.key, "{}: meta.json says {} but config.json says {}", c.name, c.key,
             model.architecture());
  return {{"logits", model.forward(c.io.get("input_ids"))}};
}

}  // namespace subq::ssm
