// Conformance runner for hf/mamba2: a Mamba2ForCausalLM checkpoint and input_ids -> logits.
#include "core/check.hpp"
#include "ssm/mamba2.hpp"
#include "tools/check/runners.hpp"

namespace subq::ssm {

check::Outputs run_mamba2_case(const check::Case& c, Device device) {
  SUBQ_CHECK(device.is_cpu(), "{}: the Mamba-2 model runs on the CPU only", c.name);
  const Mamba2Model model = Mamba2Model::load(c.dir);
  return {{"logits", model.forward(c.io.get("input_ids"))}};
}

}  // namespace subq::ssm
