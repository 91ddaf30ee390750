#pragma once
// `subq ppl`: the perplexity of a checkpoint on a text, a token file or a collection of documents,
// under one of lm/scorer.hpp's protocols.
#include <cstdint>
#include <optional>
#include <string>

namespace subq::tools {

struct PplOptions {
  std::string model;           // checkpoint folder
  std::string device = "cpu";  // cpu, cuda or cuda:N
  std::string dtype = "f32";   // the weight matrices' format: f32, bf16, f16, q8_0, q4_0 or stored
  std::string max_memory;  // --max-memory: the weights' and the forward calls' limit ("" = what is available)
  std::string text;            // UTF-8 text
  std::string tokens;          // or pre-tokenised ids: .npy (int32/int64/uint16/uint32) or raw .bin int32
  std::string documents;       // or documents: a .jsonl of {"text": ...} or a folder of .txt files
  std::string tokenizer;       // a tokenizer.json for texts (default: the model folder's, else bytes)
  std::string protocol = "windows";  // windows, sliding, stream, lm-eval or llama
  std::int64_t window = 1024;        // tokens per window (per call with stream)
  std::int64_t stride = 0;     // > 0: sliding windows with this stride
  std::int64_t batch = 8;      // windows per forward call, packed (ScoreOptions::batch)
  bool stream = false;         // the stream protocol (as --protocol stream)
  /// Share the work among the ranks mpirun started: the stream protocol context-parallel, the
  /// others' windows data-parallel (ScoreOptions::ranks).
  bool context_parallel = false;
  /// lm-eval's prefix token and llama's BOS; by default config.json's bos_token_id (the prefix
  /// falling back to eos_token_id). A negative BOS means none.
  std::optional<std::int64_t> prefix_token, bos_token;
  bool allow_nonfinite = false;  // count non-finite logits instead of stopping at the first
  std::string json;            // write the results as JSON here
  std::string per_position;    // write the mean loss by position in the window as CSV here, and a PNG plot beside it
  std::string depth_curve;     // write the loss by position in the document as CSV here (and a PNG), beside the
                               // stream's (or, for a stream run, the windows protocol's)
  std::string save_logits;     // write each scored position's distribution here (lm/divergence.hpp)
  std::string kl_divergence;   // score against the distributions of such a file
  std::int64_t kl_top_k = 256;  // tokens kept per position by save_logits (all when the vocabulary is smaller)
};

/// Returns the process exit code; errors are subq::Error.
int run_ppl(const PplOptions& options);

}  // namespace subq::tools
