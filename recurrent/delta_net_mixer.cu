// The CUDA kernel of the DeltaNet layers' gate pass (recurrent/delta_net_passes.hpp); the CPU loop
// runs the same functor.
#include "core/row_pass.cuh"
#include "recurrent/delta_net_passes.hpp"

namespace subq::detail {
template std::string launch_row_pass(const recurrent::detail::DeltaNetGates<float>&, std::int64_t);
}  // namespace subq::detail
