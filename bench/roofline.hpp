#pragma once
// The roofline a benchmark sets an operator against: the least time one call can take on this
// machine is the largest of
//   bytes / copy bandwidth      (each input read once, each output written once)
//   flops / GEMM rate           (the multiply-adds, an FMA counting 2, at the rate the library's
//                                own float32 GEMM reaches here)
//   exps / vectorised exp rate  (exp, log and the like, at the rate a vectorised float32 exp reaches)
// each ceiling measured in the same process, on all the threads the operators use. The counts of
// every operator are in bench/operator_costs.hpp; roofline_fraction = that floor / the time taken,
// and the ceiling that gives the floor is the one that binds.
#include <string_view>

#include "core/device.hpp"

namespace subq::bench {

/// The least work one call of an operator does.
struct Cost {
  double bytes = 0, flops = 0, exps = 0;
};

/// The device's three ceilings, per second. On CUDA the exp rate is not measured (infinite): the
/// special-function units' rate is far above what any operator here needs next to its FLOPs.
struct Ceilings {
  double copy_bytes = 0, gemm_flops = 0, exps = 0;
};

/// Measured on the first call per device (about a second on the CPU), then cached.
const Ceilings& ceilings(Device device);

struct Floor {
  double seconds = 0;
  std::string_view bound;  // "copy", "gemm" or "exp": the ceiling that sets the floor
};

Floor roofline_floor(const Cost& cost, const Ceilings& ceilings);

}  // namespace subq::bench
