// Builds without the CUDA backend: no tensor can be on a GPU, so the recurrent kernels' CUDA
// launchers are never reached; they fail with the reason should one be.
#include "core/device.hpp"
#include "recurrent/wkv_cuda.hpp"

namespace subq::recurrent::detail {

std::size_t wkv4_workspace_bytes(const Wkv4CudaParams&) { return 0; }
std::string launch_wkv4(const Wkv4CudaParams&) { return cuda_status(); }
std::string launch_wkv6_chunk_states(const Wkv6CudaParams&, void*, void*) { return cuda_status(); }
std::string launch_wkv6_outputs(const Wkv6CudaParams&, const void*, const void*, void*, void*) { return cuda_status(); }
std::string launch_wkv7(const Wkv7CudaParams&) { return cuda_status(); }

}  // namespace subq::recurrent::detail
