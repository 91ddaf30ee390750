#pragma once
// The families' conformance runners (each defined beside its op or model, in <family>/*_conformance.cpp)
// and the table that finds them by a case's key.
#include "conformance/case.hpp"

namespace subq::check {
/// The runner for a case's key (on any device), or nullptr when the library does not support it.
Runner find_runner(const std::string& key);
}  // namespace subq::check

namespace subq::attention {
check::Outputs run_sliding_window_attention_case(const check::Case& c, Device device);
}

namespace subq::recurrent {
check::Outputs run_based_case(const check::Case& c, Device device);
check::Outputs run_delta_rule_case(const check::Case& c, Device device);
check::Outputs run_gla_case(const check::Case& c, Device device);
check::Outputs run_linear_attention_case(const check::Case& c, Device device);
check::Outputs run_mlstm_case(const check::Case& c, Device device);
check::Outputs run_rglru_case(const check::Case& c, Device device);
}  // namespace subq::recurrent

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

namespace subq::lm {
check::Outputs run_language_model_case(const check::Case& c, Device device);
}
