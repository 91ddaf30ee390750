#pragma once
// Declarations of the families' conformance runners (defined in each family's folder).
#include "tools/check/conformance.hpp"

namespace subq::scan {
check::Outputs run_linear_recurrence_case(const check::Case& c, Device device);
}

namespace subq::conv {
check::Outputs run_hyena_operator_case(const check::Case& c, Device device);
}

namespace subq::ssm {
check::Outputs run_hippo_transition_case(const check::Case& c, Device device);
check::Outputs run_hippo_nplr_case(const check::Case& c, Device device);
check::Outputs run_selective_scan_case(const check::Case& c, Device device);
check::Outputs run_selective_state_update_case(const check::Case& c, Device device);
check::Outputs run_ssd_case(const check::Case& c, Device device);
check::Outputs run_s4_block_case(const check::Case& c, Device device);
}

namespace subq::hybrid {
check::Outputs run_language_model_case(const check::Case& c, Device device);
}
