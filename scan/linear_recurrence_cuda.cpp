#include "scan/linear_recurrence_cuda.hpp"

#include "scan/linear_recurrence_impl.hpp"

namespace subq::scan::detail {

void linear_recurrence_cuda(const LinearRecurrenceArgs& args, std::int64_t chunk_length) {
  const Tensor &a = args.a, &b = args.b, &h0 = args.h0;
  SUBQ_CHECK(a.stride(2) == 1 || a.size(2) <= 1,
             "linear_recurrence on {}: tensor 'a' needs unit stride along length, found {}", to_string(a.device()),
             a.stride(2));
  SUBQ_CHECK(b.stride(2) == 1 || b.size(2) <= 1,
             "linear_recurrence on {}: tensor 'b' needs unit stride along length, found {}", to_string(b.device()),
             b.stride(2));
  const LinearRecurrenceParams params{a.raw_data(),  b.raw_data(),  h0.raw_data(),
                                      args.h.raw_data(), args.final_state.raw_data(),
                                      a.size(0),     a.size(1),     a.size(2),
                                      a.stride(0),   a.stride(1),   b.stride(0),
                                      b.stride(1),   h0.stride(0),  h0.stride(1),
                                      args.direction == Direction::Reverse, a.dtype()};
  const LinearRecurrencePlan plan = plan_linear_recurrence_cuda(params, chunk_length);
  Tensor workspace;
  if (plan.workspace_bytes) workspace = Tensor::empty({std::int64_t(plan.workspace_bytes)}, DType::U8, a.device());
  check_launch("linear_recurrence", a.device(),
               launch_linear_recurrence_cuda(params, plan, workspace.defined() ? workspace.raw_data() : nullptr));
}

}  // namespace subq::scan::detail
