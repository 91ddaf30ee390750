// Builds without the CUDA backend: no tensor can be on a GPU, so the recurrent layers' CUDA
// launchers are never reached; they fail with the reason should one be.
#include "core/device.hpp"
#include "recurrent/layer_ops_cuda.hpp"
#include "recurrent/rwkv7_mixer_cuda.hpp"
#include "recurrent/wkv_cuda.hpp"

namespace subq::recurrent::detail {

std::size_t wkv4_workspace_bytes(const Wkv4CudaParams&) { return 0; }
std::string launch_wkv4(const Wkv4CudaParams&) { return cuda_status(); }
std::string launch_wkv6_chunk_states(const Wkv6CudaParams&, void*, void*) { return cuda_status(); }
std::string launch_wkv6_outputs(const Wkv6CudaParams&, const void*, const void*, void*, void*) { return cuda_status(); }
std::string launch_wkv7(const Wkv7CudaParams&) { return cuda_status(); }
std::string launch_activate(float*, std::int64_t, Activation) { return cuda_status(); }
std::string launch_token_shift(float*, const float*, const float*, std::int64_t, std::int64_t, std::int64_t, bool) {
  return cuda_status();
}
std::string launch_multiply(float*, const float*, std::int64_t, std::int64_t) { return cuda_status(); }
std::string launch_add_scaled(float*, const float*, const float*, const float*, std::int64_t, std::int64_t) {
  return cuda_status();
}
std::string launch_lerp(float*, const float*, const float*, const float*, std::int64_t, std::int64_t) {
  return cuda_status();
}
std::string launch_swish_product(float*, const float*, std::int64_t) { return cuda_status(); }
std::string launch_normalize_groups(float*, std::int64_t, std::int64_t) { return cuda_status(); }
std::string launch_lerp_toward(float*, const float*, const float*, std::int64_t) { return cuda_status(); }
std::string launch_key_update(float*, const float*, const float*, std::int64_t, std::int64_t) { return cuda_status(); }
std::string launch_bonus_and_gate(float*, const float*, const float*, const float*, const float*, const float*,
                                  std::int64_t, std::int64_t, std::int64_t, std::int64_t) {
  return cuda_status();
}

}  // namespace subq::recurrent::detail
