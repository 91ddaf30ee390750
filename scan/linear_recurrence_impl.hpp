#pragma once
// Internal: the backends of linear_recurrence, called after the arguments are validated.
#include "core/check.hpp"
#include "scan/linear_recurrence.hpp"

namespace subq::scan::detail {

/// Everything validated: a, b (B, D, L) of the input dtype; h0 (B, D) of the state dtype;
/// h (B, D, L) and final_state (B, D) allocated contiguous in the state dtype.
struct LinearRecurrenceArgs {
  Tensor a, b, h0, h, final_state;
  Direction direction;
};

/// Calls f(T{}) with T the state scalar of dtype: float, double, complex64 or complex128.
template <class F>
void visit_state_type(DType dtype, F&& f) {
  switch (dtype) {
    case DType::F32: return f(float{});
    case DType::F64: return f(double{});
    case DType::C64: return f(complex64{});
    case DType::C128: return f(complex128{});
    default: SUBQ_FAIL("linear_recurrence: no state type for {}", dtype_name(dtype));
  }
}

void linear_recurrence_cpu(const LinearRecurrenceArgs& args, ThreadPool& pool, std::int64_t chunk_length);
void linear_recurrence_cuda(const LinearRecurrenceArgs& args, std::int64_t chunk_length);

}  // namespace subq::scan::detail
