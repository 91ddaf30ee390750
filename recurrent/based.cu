// The CUDA kernel of BASED's Taylor features (recurrent/linear_attention_passes.hpp); the CPU
// loop runs the same functor.
#include "core/row_pass.cuh"
#include "recurrent/linear_attention_passes.hpp"

// float64 too: the CPU dispatch instantiates both (CUDA runs float32; see the ops' headers).
namespace subq::detail {
template std::string launch_row_pass(const recurrent::detail::TaylorFeatures<float>&, std::int64_t);
template std::string launch_row_pass(const recurrent::detail::TaylorFeatures<double>&, std::int64_t);
}  // namespace subq::detail
