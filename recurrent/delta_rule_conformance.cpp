// Conformance runner for delta_rule/* and gated_delta_rule/* cases: q, k, v, beta (and g, gated),
// the case's scale, L2 norm and h0 -> o, final_state.
#include "conformance/case.hpp"
#include "recurrent/delta_rule.hpp"

namespace subq::recurrent {

check::Outputs run_delta_rule_case(const check::Case& c, Device device) {
  const JsonConfig params = c.meta.child("params");
  DeltaRuleOptions options;
  options.scale = params.get_double("scale");
  options.l2_normalize = params.get_bool("l2");
  options.g = check::optional_input(c, "g", device);
  options.initial_state = check::optional_input(c, "h0", device);
  const auto in = [&](const char* name) { return check::input(c, name, device); };
  const DeltaRuleResult r = delta_rule(in("q"), in("k"), in("v"), in("beta"), options);
  return {{"o", r.o}, {"final_state", r.final_state}};
}

}  // namespace subq::recurrent
