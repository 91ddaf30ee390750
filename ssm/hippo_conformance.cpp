// Conformance runner for hippo/transition_<measure>_<N> cases: -> A (N, N), B (N).
#include "ssm/hippo.hpp"
#include "tools/check/runners.hpp"

namespace subq::ssm {

check::Outputs run_hippo_transition_case(const check::Case& c, Device) {
  // Initialisation-time matrices: computed on the CPU whatever the device.
  const HippoTransition t = hippo_transition(parse_hippo_measure(c.meta.get_string("measure")), c.meta.get_int("N"));
  return {{"A", t.A}, {"B", t.B}};
}

}  // namespace subq::ssm
