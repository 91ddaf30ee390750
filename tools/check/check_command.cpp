#include "tools/check/check_command.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "tools/check/runners.hpp"
#include "tools/device_option.hpp"
#include "tools/load_options.hpp"

namespace subq::check {

namespace {

struct Line {
  std::string status;  // PASS, FAIL or SKIP
  std::string name;
  Comparison comparison;
  std::string reason;  // for SKIP and errors
};

bool selected(const Case& c, const std::string& only) {
  if (only.empty()) return true;
  const std::string family = c.name.substr(0, c.name.find('/'));
  return family == only || c.key == only || c.name == only || c.name.rfind(only + "/", 0) == 0;
}

Line run_case(const std::filesystem::path& dir, Device device, const std::string& only, DType weights,
              bool* filtered_out) {
  Line line{"FAIL", dir.filename().string(), {}, {}};
  try {
    Case c = load_case(dir);
    if (c.kind == "model") c.weights = weights;
    line.name = c.name;
    *filtered_out = !selected(c, only);
    if (*filtered_out) return line;
    const Runner runner = find_runner(c.key);
    if (runner == nullptr) {
      line.status = "SKIP";
      line.reason = fmt::format("no runner for {} '{}' yet", c.kind == "model" ? "arch" : "op", c.key);
      return line;
    }
    line.comparison = compare(c, runner(c, device));
    line.status = line.comparison.pass ? "PASS" : "FAIL";
  } catch (const std::exception& e) {
    line.reason = e.what();
  }
  return line;
}

void print_line(const Line& line) {
  if (line.status == "SKIP") {
    fmt::print("SKIP {} ({})\n", line.name, line.reason);
  } else if (!line.reason.empty()) {
    fmt::print("FAIL {} error: {}\n", line.name, line.reason);
  } else {
    fmt::print("{} {} max_abs_err={:.3g} worst_ratio={:.3g}{}\n", line.status, line.name, line.comparison.max_abs_err,
               line.comparison.worst_ratio, line.status == "FAIL" ? " worst=" + line.comparison.worst : "");
  }
  std::fflush(stdout);
}

nlohmann::json to_json(const Line& line) {
  nlohmann::json j = {{"name", line.name}, {"status", line.status}};
  if (!line.reason.empty()) j["reason"] = line.reason;
  if (line.reason.empty() && line.status != "SKIP") {
    j["max_abs_err"] = line.comparison.max_abs_err;
    j["worst_ratio"] = line.comparison.worst_ratio;
    j["worst"] = line.comparison.worst;
  }
  return j;
}

}  // namespace

int run_check(const CheckOptions& options) {
  const Device device = tools::usable_device(options.device);
  const DType weights = tools::weight_format(options.dtype).value_or(DType::F32);  // the fixtures store float32
  std::vector<std::filesystem::path> dirs;
  for (const auto& path : options.paths)
    for (auto& dir : find_cases(path)) dirs.push_back(std::move(dir));

  int passed = 0, failed = 0, skipped = 0;
  nlohmann::json cases = nlohmann::json::array();
  for (const auto& dir : dirs) {
    bool filtered_out = false;
    const Line line = run_case(dir, device, options.only, weights, &filtered_out);
    if (filtered_out) continue;
    (line.status == "PASS" ? passed : line.status == "SKIP" ? skipped : failed)++;
    if (options.json)
      cases.push_back(to_json(line));
    else
      print_line(line);
  }
  const bool none = passed + failed + skipped == 0;
  if (options.json) {
    nlohmann::json out = {{"device", to_string(device)}, {"cases", cases},  {"passed", passed},
                          {"failed", failed},            {"skipped", skipped}};
    fmt::print("{}\n", out.dump(1));
  } else {
    if (none) fmt::print(stderr, "subq check: no conformance case found under the given paths\n");
    fmt::print("{} passed, {} failed, {} skipped\n", passed, failed, skipped);
  }
  return failed > 0 || none ? 1 : 0;
}

}  // namespace subq::check
