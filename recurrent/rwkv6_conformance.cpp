// Conformance runner for fla/rwkv6: an RWKV6ForCausalLM checkpoint and input_ids -> logits.
#include "core/check.hpp"
#include "recurrent/rwkv6_model.hpp"
#include "tools/check/runners.hpp"

namespace subq::recurrent {

check::Outputs run_rwkv6_case(const check::Case& c, Device device) {
  SUBQ_CHECK(device.is_cpu(), "{}: RWKV-6 runs on the CPU only", c.name);
  return {{"logits", Rwkv6Model::load(c.dir).forward(c.io.get("input_ids"))}};
}

}  // namespace subq::recurrent
