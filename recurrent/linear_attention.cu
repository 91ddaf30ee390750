// The CUDA kernels of linear attention's row passes (recurrent/linear_attention_passes.hpp) and of
// the SSD state layouts (recurrent/ssd_form.hpp), which mLSTM shares; their CPU loops run the
// same functors.
#include "core/row_pass.cuh"
#include "recurrent/linear_attention_passes.hpp"
#include "recurrent/ssd_form.hpp"

// float64 too: the CPU dispatch instantiates both (CUDA runs float32; see the ops' headers).
namespace subq::detail {
template std::string launch_row_pass(const recurrent::detail::LinearAttentionOperands<float>&, std::int64_t);
template std::string launch_row_pass(const recurrent::detail::LinearAttentionOperands<double>&, std::int64_t);
template std::string launch_row_pass(const recurrent::detail::NormalizedOutputs<float>&, std::int64_t);
template std::string launch_row_pass(const recurrent::detail::NormalizedOutputs<double>&, std::int64_t);
template std::string launch_row_pass(const recurrent::detail::PackSsdState<float>&, std::int64_t);
template std::string launch_row_pass(const recurrent::detail::PackSsdState<double>&, std::int64_t);
template std::string launch_row_pass(const recurrent::detail::UnpackSsdState<float>&, std::int64_t);
template std::string launch_row_pass(const recurrent::detail::UnpackSsdState<double>&, std::int64_t);
}  // namespace subq::detail
