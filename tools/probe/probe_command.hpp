#pragma once
// `subq probe passkey|niah|mqar`: retrieval probes swept over prompt length and needle depth
// (lm/probe.hpp), reported as a grid of accuracies: a table, JSON and heatmap PNGs.
#include <cstdint>
#include <string>

namespace subq::tools {

struct ProbeOptions {
  std::string kind;                          // passkey, niah or mqar
  std::string model;                         // checkpoint folder
  std::string device = "cpu";                // cpu, cuda or cuda:N
  std::string dtype = "f32";                 // the weight matrices' format
  std::string max_memory;  // --max-memory: the weights' and the forward calls' limit ("" = what is available)
  std::string lengths = "1K,4K,16K,64K";     // prompt lengths in tokens (K = 1024, M = 1024 K)
  std::string depths = "0,0.25,0.5,0.75,1";  // needle depths (passkey, niah)
  std::string kv_pairs = "8,32";             // MQAR's key-value pairs per example
  std::int64_t samples = 1;                  // probes per grid cell
  std::int64_t candidates = 10;              // answers ranked by likelihood (passkey, niah)
  std::uint64_t seed = 0;
  std::int64_t window = 1024;  // tokens per forward call as the prompt streams
  std::string haystack;        // filler text (default: the held-out Moby-Dick)
  std::string tokenizer;       // a tokenizer.json (default: the model folder's, else bytes)
  std::string out = "probe";   // prefix of the JSON and PNG outputs
};

/// Returns the process exit code; errors are subq::Error.
int run_probe(const ProbeOptions& options);

}  // namespace subq::tools
