// The CUDA kernels of GLA's row passes (recurrent/gla_passes.hpp); the CPU loops run the same functors.
#include "core/row_pass.cuh"
#include "recurrent/gla_passes.hpp"

// float64 too: the CPU dispatch instantiates both (CUDA runs float32; see the ops' headers).
namespace subq::detail {
template std::string launch_row_pass(const recurrent::detail::GlaReceptance<float>&, std::int64_t);
template std::string launch_row_pass(const recurrent::detail::GlaReceptance<double>&, std::int64_t);
template std::string launch_row_pass(const recurrent::detail::GlaOwnStep<float>&, std::int64_t);
template std::string launch_row_pass(const recurrent::detail::GlaOwnStep<double>&, std::int64_t);
template std::string launch_row_pass(const recurrent::detail::GlaLogGates<float>&, std::int64_t);
}  // namespace subq::detail
