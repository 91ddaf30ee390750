// Builds without the CUDA backend: no tensor can be on a GPU, so conv's CUDA launchers are never
// reached; they fail with the reason should one be.
#include "conv/causal_conv1d_cuda.hpp"
#include "conv/fft_conv_cuda.hpp"
#include "conv/hyena_cuda.hpp"
#include "core/device.hpp"

namespace subq::conv::detail {

std::string launch_causal_conv1d(const CausalConv1dParams&) { return cuda_status(); }
std::size_t fft_conv_workspace_bytes(const FftConvParams&) { return 0; }
std::string launch_fft_causal_conv(const FftConvParams&) { return cuda_status(); }
std::string launch_irfft_f64(double*, std::int64_t, std::int64_t, double*, std::int64_t) { return cuda_status(); }
std::string launch_filter_sine(double*, const double*, std::int64_t, std::int64_t) { return cuda_status(); }
std::string launch_filter_modulation(double*, const double*, const double*, std::int64_t, std::int64_t) {
  return cuda_status();
}
std::string launch_gate(float*, const float*, std::int64_t) { return cuda_status(); }
std::string launch_gate(double*, const double*, std::int64_t) { return cuda_status(); }
std::string launch_conv_skip(float*, const float*, const double*, std::int64_t, std::int64_t, std::int64_t) {
  return cuda_status();
}
std::string launch_conv_skip(double*, const double*, const double*, std::int64_t, std::int64_t, std::int64_t) {
  return cuda_status();
}

}  // namespace subq::conv::detail
