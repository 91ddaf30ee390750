// Conformance runner for scan/linear_recurrence_* cases: a, b (B, D, L), h0 (B, D) -> h.
#include "conformance/case.hpp"
#include "scan/linear_recurrence.hpp"

namespace subq::scan {

check::Outputs run_linear_recurrence_case(const check::Case& c, Device device) {
  const Tensor a = c.io.get("a").to(device), b = c.io.get("b").to(device), h0 = c.io.get("h0").to(device);
  return {{"h", linear_recurrence(a, b, h0).h}};
}

}  // namespace subq::scan
