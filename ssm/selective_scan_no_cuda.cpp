#include "core/check.hpp"
#include "core/device.hpp"
#include "ssm/selective_scan_impl.hpp"

namespace subq::ssm::detail {

SelectiveScanResult selective_scan_cuda(const SelectiveScanShape&, const Tensor&, const Tensor&, const Tensor&,
                                        const Tensor&, const Tensor&, const SelectiveScanOptions&) {
  SUBQ_FAIL("selective_scan on cuda: {}", cuda_status());
}

}  // namespace subq::ssm::detail
