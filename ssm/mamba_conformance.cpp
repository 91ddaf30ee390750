// Conformance runner for hf/mamba: a MambaForCausalLM checkpoint and input_ids -> logits.
#include "core/check.hpp"
#include "ssm/mamba.hpp"
#include "tools/check/runners.hpp"

namespace subq::ssm {

check::Outputs run_mamba_case(const check::Case& c, Device device) {
  SUBQ_CHECK(device.is_cpu(), "{}: the Mamba model runs on the CPU only", c.name);
  const MambaModel model = MambaModel::load(c.dir);
  return {{"logits", model.forward(c.io.get("input_ids"))}};
}

}  // namespace subq::ssm
