#pragma once
// Declarations of the families' conformance runners (defined in each family's folder).
#include "tools/check/conformance.hpp"

namespace subq::scan {
check::Outputs run_linear_recurrence_case(const check::Case& c, Device device);
}
