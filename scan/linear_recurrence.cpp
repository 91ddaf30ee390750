#include "scan/linear_recurrence.hpp"

#include "core/check.hpp"
#include "scan/linear_recurrence_impl.hpp"
#include "scan/scan_operator.hpp"

namespace subq::scan {

namespace {

DType state_dtype(DType input) { return input == DType::BF16 || input == DType::F16 ? DType::F32 : input; }

detail::LinearRecurrenceArgs validate(const Tensor& a, const Tensor& b, const Tensor& h0, Direction direction,
                                      const Tensor& out = {}) {
  SUBQ_CHECK(a.defined() && b.defined(), "linear_recurrence: a and b must be defined");
  SUBQ_CHECK(a.dim() == 3, "linear_recurrence: tensor 'a': expected (batch, channels, length), found shape {}",
             to_string(a.shape()));
  SUBQ_CHECK(b.shape() == a.shape(), "linear_recurrence: tensor 'b': expected shape {} (as 'a'), found {}",
             to_string(a.shape()), to_string(b.shape()));
  SUBQ_CHECK(b.dtype() == a.dtype(), "linear_recurrence: tensor 'b': expected dtype {} (as 'a'), found {}",
             dtype_name(a.dtype()), dtype_name(b.dtype()));
  SUBQ_CHECK(is_floating(a.dtype()) || is_complex(a.dtype()),
             "linear_recurrence: tensor 'a': expected a floating or complex dtype, found {}", dtype_name(a.dtype()));
  SUBQ_CHECK(b.device() == a.device(), "linear_recurrence: tensor 'b' is on {}, 'a' on {}", to_string(b.device()),
             to_string(a.device()));
  const DType state = state_dtype(a.dtype());
  const Shape state_shape{a.size(0), a.size(1)};
  detail::LinearRecurrenceArgs args{a, b, h0, {}, {}, direction};
  if (h0.defined()) {
    SUBQ_CHECK(h0.shape() == state_shape, "linear_recurrence: tensor 'h0': expected shape {}, found {}",
               to_string(state_shape), to_string(h0.shape()));
    SUBQ_CHECK(h0.dtype() == a.dtype() || h0.dtype() == state,
               "linear_recurrence: tensor 'h0': expected dtype {}, found {}", dtype_name(state), dtype_name(h0.dtype()));
    SUBQ_CHECK(h0.device() == a.device(), "linear_recurrence: tensor 'h0' is on {}, 'a' on {}",
               to_string(h0.device()), to_string(a.device()));
    args.h0 = h0.dtype() == state ? h0 : h0.to(state);
  } else {
    args.h0 = Tensor::zeros(state_shape, state, a.device());
  }
  if (out.defined()) {
    SUBQ_CHECK(out.shape() == a.shape() && out.dtype() == state && out.device() == a.device() && out.is_contiguous(),
               "linear_recurrence: tensor 'out': expected contiguous {} {} on {}, found {} {} on {}{}",
               dtype_name(state), to_string(a.shape()), to_string(a.device()), dtype_name(out.dtype()),
               to_string(out.shape()), to_string(out.device()), out.is_contiguous() ? "" : " (strided)");
    args.h = out;
  } else {
    args.h = Tensor::empty(a.shape(), state, a.device());
  }
  args.final_state = Tensor::empty(state_shape, state, a.device());
  return args;
}

}  // namespace

LinearRecurrenceResult linear_recurrence(const Tensor& a, const Tensor& b, const Tensor& h0,
                                         const LinearRecurrenceOptions& options) {
  SUBQ_CHECK(options.chunk_length >= 0, "linear_recurrence: chunk_length must be >= 0, found {}", options.chunk_length);
  detail::LinearRecurrenceArgs args = validate(a, b, h0, options.direction, options.out);
  if (a.device().is_cuda()) {
    detail::linear_recurrence_cuda(args, options.chunk_length);
  } else {
    const DType state = args.h.dtype();
    args.a = args.a.to(state);  // 16-bit inputs: widened once, then the float32 path
    args.b = args.b.to(state);
    detail::linear_recurrence_cpu(args, options.pool ? *options.pool : ThreadPool::global(), options.chunk_length);
  }
  return {args.h, args.final_state};
}

LinearRecurrenceResult linear_recurrence_sequential(const Tensor& a, const Tensor& b, const Tensor& h0,
                                                    Direction direction) {
  SUBQ_CHECK(a.device().is_cpu(), "linear_recurrence_sequential: runs on the CPU, 'a' is on {}", to_string(a.device()));
  detail::LinearRecurrenceArgs args = validate(a, b, h0, direction);
  const DType state = args.h.dtype();
  const Tensor ac = a.to(state).contiguous(), bc = b.to(state).contiguous(), h0c = args.h0.contiguous();
  detail::visit_state_type(state, [&](auto zero) {
    using T = decltype(zero);
    const std::int64_t rows = a.size(0) * a.size(1), L = a.size(2);
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* ar = ac.data<T>() + r * L;
      const T* br = bc.data<T>() + r * L;
      T* hr = args.h.data<T>() + r * L;
      T h = h0c.data<T>()[r];
      for (std::int64_t i = 0; i < L; ++i) {
        const std::int64_t t = direction == Direction::Forward ? i : L - 1 - i;
        h = Affine<T>{ar[t], br[t]}.apply(h);
        hr[t] = h;
      }
      args.final_state.data<T>()[r] = h;
    }
  });
  return {args.h, args.final_state};
}

}  // namespace subq::scan
