#pragma once
// `subq ppl`: the perplexity of a checkpoint on a text or token file.
#include <string>

namespace subq::tools {

struct PplOptions {
  std::string model;           // checkpoint folder
  std::string device = "cpu";  // cpu, cuda or cuda:N
  std::string text;            // UTF-8 text
  std::string tokens;          // or pre-tokenised ids: .npy (int32/int64/uint16/uint32) or raw .bin int32
  std::string tokenizer;       // a tokenizer.json for --text (default: the model folder's, else bytes)
  std::int64_t window = 1024;  // tokens per window (per call with --stream)
  std::int64_t stride = 0;     // > 0: sliding windows with this stride
  bool stream = false;         // one pass carrying the state
  std::string json;            // write the results as JSON here
  std::string per_position;    // write the mean loss by position as CSV here, and a PNG plot beside it
};

/// Returns the process exit code; errors are subq::Error.
int run_ppl(const PplOptions& options);

}  // namespace subq::tools
