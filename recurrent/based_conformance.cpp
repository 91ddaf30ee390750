// Conformance runner for based/* cases: q, k, v (B, T, H, K|V), the case's scale and normaliser -> o.
#include "conformance/case.hpp"
#include "recurrent/based.hpp"

namespace subq::recurrent {

check::Outputs run_based_case(const check::Case& c, Device device) {
  const JsonConfig params = c.meta.child("params");
  BasedOptions options;
  options.scale = params.get_double("scale");
  options.normalize = params.get_bool("norm");
  return {
      {"o", based(check::input(c, "q", device), check::input(c, "k", device), check::input(c, "v", device), options)}};
}

}  // namespace subq::recurrent
