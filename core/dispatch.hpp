#pragma once
// Internal: the one way from a tensor's runtime dtype to the C++ type a function template is
// instantiated with, as mamba's static_switch.h does for its kernels' options:
//
//   return dispatch(FloatTypes{}, "linear", x.dtype(), [&](auto zero) {
//     using T = decltype(zero);
//     return linear_typed<T>(x, weight, bias);
//   });
//
// f is called with a value-initialised T (so `decltype(zero)` names the type); every branch must
// return the same type. A dtype outside the list is an error naming the op and the dtypes taken.
#include <string>

#include "core/check.hpp"
#include "core/dtype.hpp"

namespace subq {

template <class... Types>
struct TypeList {};

using FloatTypes = TypeList<float, double>;
/// The scan core's states: real and complex, single and double precision.
using StateTypes = TypeList<float, double, complex64, complex128>;
using AllTypes = TypeList<float, double, bfloat16, float16, std::int32_t, std::int64_t, std::int8_t, std::uint8_t, bool,
                          complex64, complex128>;

namespace detail {

template <class... Types>
std::string dtype_names() {
  std::string names;
  ((names += (names.empty() ? "" : ", ") + std::string(dtype_name(dtype_of<Types>))), ...);
  return names;
}

[[noreturn]] inline void dispatch_failed(const char* op, DType dtype, const std::string& accepted) {
  SUBQ_FAIL("{}: dtype {}: expected one of {}", op, dtype_name(dtype), accepted);
}

template <class T, class... Rest, class F>
decltype(auto) dispatch_each(DType dtype, F& f, const char* op, std::string (*accepted)()) {
  if (dtype == dtype_of<T>) return f(T{});
  if constexpr (sizeof...(Rest) == 0)
    dispatch_failed(op, dtype, accepted());
  else
    return dispatch_each<Rest...>(dtype, f, op, accepted);
}

}  // namespace detail

/// The precision real inputs are computed in: float64 for float64, float32 for the others
/// (bfloat16 and float16 are widened).
inline DType float_precision(DType input) { return input == DType::F64 ? DType::F64 : DType::F32; }

/// f(T{}) for the T of `types` whose dtype is `dtype`.
template <class... Types, class F>
decltype(auto) dispatch(TypeList<Types...>, const char* op, DType dtype, F&& f) {
  return detail::dispatch_each<Types...>(dtype, f, op, &detail::dtype_names<Types...>);
}

}  // namespace subq
