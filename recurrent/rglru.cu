// The CUDA kernels of RG-LRU's row passes (recurrent/rglru_passes.hpp); the CPU loops run the same
// functors.
#include "core/row_pass.cuh"
#include "recurrent/rglru_passes.hpp"

// float64 too: the CPU dispatch instantiates both (CUDA runs float32; see the ops' headers).
namespace subq::detail {
template std::string launch_row_pass(const recurrent::detail::SigmoidWithBias<float>&, std::int64_t);
template std::string launch_row_pass(const recurrent::detail::SigmoidWithBias<double>&, std::int64_t);
template std::string launch_row_pass(const recurrent::detail::RgLruDecayRates<float>&, std::int64_t);
template std::string launch_row_pass(const recurrent::detail::RgLruDecayRates<double>&, std::int64_t);
template std::string launch_row_pass(const recurrent::detail::RgLruCoefficients<float>&, std::int64_t);
template std::string launch_row_pass(const recurrent::detail::RgLruCoefficients<double>&, std::int64_t);
}  // namespace subq::detail
