// The subq command-line program. Each subcommand lives in its own file; this one only parses.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "core/error.hpp"
#include "tools/check/check_command.hpp"

int main(int argc, char** argv) {
  CLI::App app{"subq: state-space and sub-quadratic sequence models"};
  app.require_subcommand(1);

  subq::check::CheckOptions check;
  CLI::App* check_cmd = app.add_subcommand("check", "Run conformance cases against their golden outputs");
  check_cmd->add_option("paths", check.paths, "Fixture root, family folder or case folder")->required();
  check_cmd->add_option("--device", check.device, "cpu, cuda or cuda:N")->capture_default_str();
  check_cmd->add_option("--only", check.only, "Only this family, case or op/arch");
  check_cmd->add_flag("--json", check.json, "Print the results as JSON");

  CLI11_PARSE(app, argc, argv);
  try {
    if (check_cmd->parsed()) return subq::check::run_check(check);
  } catch (const subq::Error& e) {
    std::fprintf(stderr, "subq: %s\n", e.what());
    return 2;
  }
  return 0;
}
