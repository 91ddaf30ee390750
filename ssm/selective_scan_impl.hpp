#pragma once
// Internal: the backends of selective_scan, called after the arguments are validated.
#include "ssm/selective_scan.hpp"

namespace subq::ssm::detail {

struct SelectiveScanShape {
  std::int64_t batch, dim, N, L;
  bool complex;
};

/// B or C of any accepted layout as (batch, group, N, length) strides and channels per group.
struct GroupedLayout {
  std::int64_t stride_batch, stride_group, stride_n, stride_t, channels_per_group;
};
GroupedLayout grouped_layout(const Tensor& t, std::int64_t dim);

SelectiveScanResult selective_scan_cuda(const SelectiveScanShape& shape, const Tensor& u, const Tensor& delta,
                                        const Tensor& A, const Tensor& B, const Tensor& C,
                                        const SelectiveScanOptions& options);

}  // namespace subq::ssm::detail
