#pragma once
// `subq quantize`: a copy of a checkpoint with its weight matrices in a compact format (bfloat16,
// float16, q8_0 or q4_0), which load() then maps as stored.
#include <string>

namespace subq::tools {

struct QuantizeOptions {
  std::string model;  // the checkpoint folder to read
  std::string out;    // the folder to write
  std::string type;   // bf16, f16, q8_0, q4_0 (or f32)
};

int run_quantize(const QuantizeOptions& options);

}  // namespace subq::tools
