// Conformance runner for fla/retnet: a RetNetForCausalLM checkpoint and input_ids -> logits.
#include "core/check.hpp"
#include "recurrent/retnet_model.hpp"
#include "tools/check/runners.hpp"

namespace subq::recurrent {

check::Outputs run_retnet_case(const check::Case& c, Device device) {
  SUBQ_CHECK(device.is_cpu(), "{}: RetNet runs on the CPU only", c.name);
  return {{"logits", RetNetModel::load(c.dir).forward(c.io.get("input_ids"))}};
}

}  // namespace subq::recurrent
