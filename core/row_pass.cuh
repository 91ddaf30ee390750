#pragma once
// Device code: the kernel of core/row_pass.hpp's passes. An op's .cu file includes this and
// instantiates launch_row_pass for each of its pass types:
//   template std::string subq::detail::launch_row_pass(const MyPass<float>&, std::int64_t);
// (The host header core/row_pass.hpp declares launch_row_pass too; this one stays free of the
// host-side headers it includes.)
#include <cstdint>
#include <string>

#include "core/cuda_launch.cuh"

namespace subq::detail {

template <class Pass>
__global__ void row_pass_kernel(Pass pass, std::int64_t rows) {
  SUBQ_GRID_STRIDE(row, rows) pass(row);
}

template <class Pass>
std::string launch_row_pass(const Pass& pass, std::int64_t rows) {
  return launch_elementwise(row_pass_kernel<Pass>, rows, pass, rows);
}

}  // namespace subq::detail
