// Builds without the CUDA backend: no tensor can be on a GPU, so conv's CUDA launchers are never
// reached; they fail with the reason should one be.
#include "conv/causal_conv1d_cuda.hpp"
#include "core/device.hpp"

namespace subq::conv::detail {

std::string launch_causal_conv1d(const CausalConv1dParams&) { return cuda_status(); }

}  // namespace subq::conv::detail
