// The runners of every supported case key, in one plain table. Each family's runner lives in
// the family's folder beside its CPU and CUDA paths.
#include <map>

#include "hybrid/architecture.hpp"
#include "tools/check/conformance.hpp"
#include "tools/check/runners.hpp"

namespace subq::check {

namespace {

struct Entry {
  Runner runner;
  bool cuda;  // false: the family has no CUDA path yet
};

const std::map<std::string, Entry>& entries() {
  static const std::map<std::string, Entry> table = {
      {"hippo_nplr", {&ssm::run_hippo_nplr_case, true}},  // initialisation: host code on any device
      {"hippo_transition", {&ssm::run_hippo_transition_case, true}},
      {"hyena_operator", {&conv::run_hyena_operator_case, true}},
      {"jamba", {&hybrid::run_language_model_case, hybrid::runs_on_cuda("jamba")}},
      {"linear_recurrence", {&scan::run_linear_recurrence_case, true}},
      {"mamba", {&hybrid::run_language_model_case, hybrid::runs_on_cuda("mamba")}},
      {"mamba2", {&hybrid::run_language_model_case, hybrid::runs_on_cuda("mamba2")}},
      {"retnet", {&hybrid::run_language_model_case, hybrid::runs_on_cuda("retnet")}},
      {"rwkv", {&hybrid::run_language_model_case, hybrid::runs_on_cuda("rwkv")}},
      {"rwkv6", {&hybrid::run_language_model_case, hybrid::runs_on_cuda("rwkv6")}},
      {"rwkv7", {&hybrid::run_language_model_case, hybrid::runs_on_cuda("rwkv7")}},
      {"s4_block", {&ssm::run_s4_block_case, true}},
      {"selective_scan", {&ssm::run_selective_scan_case, true}},
      {"selective_state_update", {&ssm::run_selective_state_update_case, true}},
      {"ssd", {&ssm::run_ssd_case, true}},
  };
  return table;
}

}  // namespace

bool has_runner(const std::string& key) { return entries().count(key) != 0; }

Runner find_runner(const std::string& key, Device device) {
  const auto it = entries().find(key);
  if (it == entries().end() || (device.is_cuda() && !it->second.cuda)) return nullptr;
  return it->second.runner;
}

}  // namespace subq::check
