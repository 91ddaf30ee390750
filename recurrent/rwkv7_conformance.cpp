// Conformance runner for fla/rwkv7: an RWKV7ForCausalLM checkpoint and input_ids -> logits.
#include "core/check.hpp"
#include "recurrent/rwkv7_model.hpp"
#include "tools/check/runners.hpp"

namespace subq::recurrent {

check::Outputs run_rwkv7_case(const check::Case& c, Device device) {
  SUBQ_CHECK(device.is_cpu(), "{}: RWKV-7 runs on the CPU only", c.name);
  return {{"logits", Rwkv7Model::load(c.dir).forward(c.io.get("input_ids"))}};
}

}  // namespace subq::recurrent
