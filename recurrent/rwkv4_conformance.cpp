// Conformance runner for hf/rwkv4: a RwkvForCausalLM checkpoint and input_ids -> logits.
#include "core/check.hpp"
#include "recurrent/rwkv4_model.hpp"
#include "tools/check/runners.hpp"

namespace subq::recurrent {

check::Outputs run_rwkv4_case(const check::Case& c, Device device) {
  SUBQ_CHECK(device.is_cpu(), "{}: RWKV-4 runs on the CPU only", c.name);
  return {{"logits", Rwkv4Model::load(c.dir).forward(c.io.get("input_ids"))}};
}

}  // namespace subq::recurrent
