#pragma once
// `subq generate`: sample text from a checkpoint, streaming it to stdout.
#include <cstdint>
#include <string>

namespace subq::tools {

struct GenerateOptions {
  std::string model;
  std::string device = "cpu";  // cpu, cuda or cuda:N
  std::string dtype = "f32";   // the weight matrices' format: f32, bf16, f16, q8_0, q4_0 or stored
  std::string max_memory;  // --max-memory: the weights' limit ("" = what is available)
  std::string prompt;
  std::string tokenizer;  // a tokenizer.json (default: the model folder's, else bytes)
  std::int64_t max_tokens = 200;
  double temperature = 1.0;
  std::int64_t top_k = 0;
  double top_p = 1.0;
  std::uint64_t seed = 0;
};

int run_generate(const GenerateOptions& options);

}  // namespace subq::tools
