#pragma once
// `subq bench --model DIR`: a whole checkpoint's prefill and decoding speed, and how near a
// decoding step comes to its floor, the weights it reads once at the copy bandwidth.
#include "tools/bench/bench_command.hpp"

namespace subq::tools {

int run_model_bench(const BenchOptions& options);

}  // namespace subq::tools
