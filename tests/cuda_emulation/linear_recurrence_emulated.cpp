// Stands in for scan/linear_recurrence.cu, whose CUB block loads and warp shuffles the emulation
// cannot run (that kernel is checked on a GPU): the same launcher, as a sequential loop per row.
#include <complex>

#include "cuda_bf16.h"
#include "cuda_fp16.h"
#include "scan/linear_recurrence_cuda.hpp"

namespace subq::scan::detail {

namespace {

template <class In, class State>
State load(const void* base, std::int64_t i) {
  const In x = static_cast<const In*>(base)[i];
  if constexpr (std::is_same_v<In, __nv_bfloat16>) return State(__bfloat162float(x));
  else if constexpr (std::is_same_v<In, __half>) return State(__half2float(x));
  else return State(x);
}

template <class In, class State>
std::string run(const LinearRecurrenceParams& p) {
  for (std::int64_t bt = 0; bt < p.batch; ++bt)
    for (std::int64_t c = 0; c < p.channels; ++c) {
      State h = p.h0 ? static_cast<const State*>(p.h0)[bt * p.h0_stride_batch + c * p.h0_stride_channel] : State(0);
      const std::int64_t row = bt * p.channels + c;
      for (std::int64_t s = 0; s < p.length; ++s) {
        const std::int64_t t = p.reverse ? p.length - 1 - s : s;
        h = load<In, State>(p.a, bt * p.a_stride_batch + c * p.a_stride_channel + t) * h +
            load<In, State>(p.b, bt * p.b_stride_batch + c * p.b_stride_channel + t);
        static_cast<State*>(p.h)[row * p.length + t] = h;
      }
      static_cast<State*>(p.final_state)[row] = h;
    }
  return {};
}

}  // namespace

LinearRecurrencePlan plan_linear_recurrence_cuda(const LinearRecurrenceParams& p, std::int64_t) { return {1, p.length, 0}; }

std::string launch_linear_recurrence_cuda(const LinearRecurrenceParams& p, const LinearRecurrencePlan&, void*) {
  switch (p.input) {
    case DType::F32: return run<float, float>(p);
    case DType::F64: return run<double, double>(p);
    case DType::BF16: return run<__nv_bfloat16, float>(p);
    case DType::F16: return run<__half, float>(p);
    case DType::C64: return run<std::complex<float>, std::complex<float>>(p);
    case DType::C128: return run<std::complex<double>, std::complex<double>>(p);
    default: return "linear recurrence: dtype not emulated";
  }
}

}  // namespace subq::scan::detail
