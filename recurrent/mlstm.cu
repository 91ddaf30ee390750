// The CUDA kernels of the mLSTM cell's passes (recurrent/mlstm_passes.hpp); the CPU loops run the
// same functors. The stabiliser runs one thread per (batch, head), in order along its steps.
#include "core/row_pass.cuh"
#include "recurrent/mlstm_passes.hpp"

// float64 too: the CPU dispatch instantiates both (CUDA runs float32; see the ops' headers).
namespace subq::detail {
template std::string launch_row_pass(const recurrent::detail::MlstmStabiliser<float>&, std::int64_t);
template std::string launch_row_pass(const recurrent::detail::MlstmStabiliser<double>&, std::int64_t);
template std::string launch_row_pass(const recurrent::detail::MlstmInputs<float>&, std::int64_t);
template std::string launch_row_pass(const recurrent::detail::MlstmInputs<double>&, std::int64_t);
template std::string launch_row_pass(const recurrent::detail::MlstmOutputs<float>&, std::int64_t);
template std::string launch_row_pass(const recurrent::detail::MlstmOutputs<double>&, std::int64_t);
}  // namespace subq::detail
