// Builds without the CUDA backend: no tensor can be on a GPU, so ssm's CUDA paths are never
// reached; they fail with the reason should one be.
#include "core/check.hpp"
#include "core/device.hpp"
#include "ssm/mamba2_mixer_cuda.hpp"
#include "ssm/s4_cuda.hpp"
#include "ssm/selective_scan_impl.hpp"
#include "ssm/ssd_cuda.hpp"

namespace subq::ssm::detail {

SelectiveScanResult selective_scan_cuda(const SelectiveScanShape&, const Tensor&, const Tensor&, const Tensor&,
                                        const Tensor&, const Tensor&, const SelectiveScanOptions&) {
  SUBQ_FAIL("selective_scan on cuda: {}", cuda_status());
}

std::string launch_ssd_chunks(const SsdCudaParams&) { return cuda_status(); }
std::string launch_ssd_state_outputs(const SsdCudaParams&, const float*, const float*) { return cuda_status(); }
std::string launch_mamba2_ssd_inputs(const Mamba2StepParams&, float*, float*) { return cuda_status(); }
std::string launch_mamba2_skip(const Mamba2StepParams&, float*) { return cuda_status(); }
std::string launch_vandermonde(const VandermondeParams&) { return cuda_status(); }
std::string launch_cauchy_spectrum(const CauchyParams&) { return cuda_status(); }
std::string launch_gelu_skip(double*, const double*, const double*, std::int64_t, std::int64_t, std::int64_t,
                             std::int64_t) {
  return cuda_status();
}
std::string launch_feature_glu(const double*, double*, std::int64_t, std::int64_t, std::int64_t) { return cuda_status(); }

}  // namespace subq::ssm::detail
