#pragma once
// `subq init`: a new checkpoint folder from a config (e.g. a subq_hybrid layer pattern) with
// freshly initialised weights, for training elsewhere, benchmarking or trying an architecture.
#include <cstdint>
#include <string>

namespace subq::tools {

struct InitOptions {
  std::string config;  // a config.json
  std::string out;     // the checkpoint folder to write
  std::uint64_t seed = 0;
  std::string max_memory;  // --max-memory: the weights' limit ("" = what is available)
};

int run_init(const InitOptions& options);

}  // namespace subq::tools
