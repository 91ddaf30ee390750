#pragma once
// Internal: an element-wise pass written once and run on either device. A pass is a functor
//   struct P { ...pointers and sizes...; SUBQ_HOST_DEVICE void operator()(std::int64_t row) const; };
// doing the work of one row (a (batch, step, head) of an operand, say) with no other row's
// results. run_row_pass runs rows [0, n) over the CPU pool's threads, or as a grid-stride CUDA
// kernel (core/row_pass.cuh), instantiated for P in the .cu file beside the op that owns P. So the
// CPU loop and the kernel are one definition, and the CPU's results are the kernel's reference.
#include <cstdint>
#include <string>

#include "core/check.hpp"
#include "core/thread_pool.hpp"

namespace subq::detail {

/// The CUDA launch of pass over rows [0, n): defined in core/row_pass.cuh, explicitly
/// instantiated per pass type in its op's .cu file. The error message, empty on success.
template <class Pass>
std::string launch_row_pass(const Pass& pass, std::int64_t rows);

/// pass(row) for every row in [0, rows), on device (the pass's pointers must be there).
template <class Pass>
void run_row_pass(const char* op, Device device, const Pass& pass, std::int64_t rows) {
  if (device.is_cuda()) return launch_on_cuda(op, device, [&] { return launch_row_pass(pass, rows); });
  ThreadPool::global().parallel_for(rows, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t row = begin; row < end; ++row) pass(row);
  });
}

}  // namespace subq::detail
