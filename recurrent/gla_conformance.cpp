// Conformance runner for gla/* cases: q, k, v, gk (B, T, H, K|V), the case's scale and h0 -> o,
// final_state.
#include "conformance/case.hpp"
#include "recurrent/gla.hpp"

namespace subq::recurrent {

check::Outputs run_gla_case(const check::Case& c, Device device) {
  GlaOptions options;
  options.scale = c.meta.child("params").get_double("scale");
  options.initial_state = check::optional_input(c, "h0", device);
  const auto in = [&](const char* name) { return check::input(c, name, device); };
  const GlaResult r = gla(in("q"), in("k"), in("v"), in("gk"), options);
  return {{"o", r.o}, {"final_state", r.final_state}};
}

}  // namespace subq::recurrent
