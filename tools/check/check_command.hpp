#pragma once
#include <string>
#include <vector>

namespace subq::check {

struct CheckOptions {
  std::vector<std::string> paths;
  std::string device = "cpu";
  std::string only;  // a family (parent folder), a case name prefix, or an op/arch
  bool json = false;
  std::string dtype = "f32";  // the weight matrices' format for model cases (--dtype)
};

/// `subq check`: runs every case under the paths, prints a line per case and the totals (or JSON).
/// Returns the exit code: 0 all passed, 1 a case failed or no case was found.
int run_check(const CheckOptions& options);

}  // namespace subq::check
