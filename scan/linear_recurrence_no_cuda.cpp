#include "scan/linear_recurrence_impl.hpp"

namespace subq::scan::detail {

void linear_recurrence_cuda(const LinearRecurrenceArgs&, std::int64_t) {
  SUBQ_FAIL("linear_recurrence on {}: {}", "cuda", cuda_status());
}

}  // namespace subq::scan::detail
