// The runners of every supported case key, in one plain table. Each family's runner lives in
// the family's folder beside its CPU and CUDA paths.
#include <map>

#include "tools/check/conformance.hpp"
#include "tools/check/runners.hpp"

namespace subq::check {

Runner find_runner(const std::string& key) {
  static const std::map<std::string, Runner> runners = {
      {"hippo_nplr", &ssm::run_hippo_nplr_case},
      {"hippo_transition", &ssm::run_hippo_transition_case},
      {"linear_recurrence", &scan::run_linear_recurrence_case},
      {"mamba", &ssm::run_ssm_model_case},
      {"mamba2", &ssm::run_ssm_model_case},
      {"s4_block", &ssm::run_s4_block_case},
      {"selective_scan", &ssm::run_selective_scan_case},
      {"selective_state_update", &ssm::run_selective_state_update_case},
      {"ssd", &ssm::run_ssd_case},
  };
  auto it = runners.find(key);
  return it == runners.end() ? nullptr : it->second;
}

}  // namespace subq::check
