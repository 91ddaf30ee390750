// The runners of every supported case key, in one plain table. Each family's runner lives in
// the family's folder beside its CPU and CUDA paths.
#include <map>

#include "tools/check/runners.hpp"

namespace subq::check {

namespace {

// Every family runs on the CPU and on CUDA.
const std::map<std::string, Runner>& runners() {
  static const std::map<std::string, Runner> table = {
      {"based", &recurrent::run_based_case},
      {"delta_rule", &recurrent::run_delta_rule_case},
      {"gated_delta_rule", &recurrent::run_delta_rule_case},
      {"gla", &recurrent::run_gla_case},
      {"hippo_nplr", &ssm::run_hippo_nplr_case},  // initialisation: host code on any device
      {"hippo_transition", &ssm::run_hippo_transition_case},
      {"hyena_operator", &conv::run_hyena_operator_case},
      {"jamba", &lm::run_language_model_case},
      {"linear_attn", &recurrent::run_linear_attention_case},
      {"linear_recurrence", &scan::run_linear_recurrence_case},
      {"mamba", &lm::run_language_model_case},
      {"mamba2", &lm::run_language_model_case},
      {"mlstm", &recurrent::run_mlstm_case},
      {"retnet", &lm::run_language_model_case},
      {"rglru", &recurrent::run_rglru_case},
      {"rwkv", &lm::run_language_model_case},
      {"rwkv6", &lm::run_language_model_case},
      {"rwkv7", &lm::run_language_model_case},
      {"s4_block", &ssm::run_s4_block_case},
      {"selective_scan", &ssm::run_selective_scan_case},
      {"selective_state_update", &ssm::run_selective_state_update_case},
      {"sliding_window_attention", &attention::run_sliding_window_attention_case},
      {"ssd", &ssm::run_ssd_case},
  };
  return table;
}

}  // namespace

Runner find_runner(const std::string& key) {
  const auto it = runners().find(key);
  return it == runners().end() ? nullptr : it->second;
}

}  // namespace subq::check
