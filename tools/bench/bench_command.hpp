#pragma once
// `subq bench`: long-context runs of every sequence mixer at a realistic width: prefill time,
// tokens/s and peak memory against length, and decoding tokens/s against context length, on the
// CPU or a GPU.
#include <cstdint>
#include <string>

namespace subq::tools {

struct BenchOptions {
  bool quick = false;             // L = 1K and 4K only: a minute or two on a small CPU
  std::string only;               // run only the mixers whose name contains this
  std::string out = "subq_bench"; // writes <out>.csv, <out>.json and <out>.png
  std::string device = "cpu";     // cpu, cuda or cuda:N
  std::string model;              // a checkpoint folder: that model's prefill and decoding instead of the mixers
  std::string dtype = "f32";      // with model: the weight formats to run, comma-separated (f32,bf16,q8_0)
};

int run_bench(const BenchOptions& options);

}  // namespace subq::tools
