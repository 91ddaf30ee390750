#pragma once
// Internal: formatted checks that throw subq::Error. Not installed; public headers stay fmt-free.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"

#define SUBQ_CHECK(cond, ...)                                  \
  do {                                                         \
    if (!(cond)) throw ::subq::Error(fmt::format(__VA_ARGS__)); \
  } while (0)

#define SUBQ_FAIL(...) throw ::subq::Error(fmt::format(__VA_ARGS__))

#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>

#include "core/tensor.hpp"
#include "subq/version.hpp"

namespace subq {

/// Throws "<op>: <name>: expected shape [..], found [..]" unless t has exactly that shape.
inline void check_shape(const char* op, const char* name, const Tensor& t, const Shape& expected) {
  SUBQ_CHECK(t.defined(), "{}: {} is missing (expected shape {})", op, name, to_string(expected));
  SUBQ_CHECK(t.shape() == expected, "{}: {}: expected shape {}, found {}", op, name, to_string(expected),
             to_string(t.shape()));
}

/// A layer's operands by name; undefined tensors (optional operands left out) are skipped.
using NamedTensors = std::initializer_list<std::pair<const char*, const Tensor*>>;

/// Throws "<op>: <name> is on <its device>, the input on <device>" unless every operand is there.
inline void check_same_device(const char* op, Device device, NamedTensors operands) {
  for (const auto& [name, t] : operands)
    SUBQ_CHECK(!t->defined() || t->device() == device, "{}: {} is on {}, the input on {}", op, name,
               to_string(t->device()), to_string(device));
}

/// The contract of the CUDA paths: every operand on device and of one dtype.
inline void check_cuda_dtype(const char* op, Device device, DType dtype, NamedTensors operands) {
  check_same_device(op, device, operands);
  for (const auto& [name, t] : operands)
    SUBQ_CHECK(!t->defined() || t->dtype() == dtype, "{} on {}: {}: expected {}, found {}", op, to_string(device), name,
               dtype_name(dtype), dtype_name(t->dtype()));
}

inline void check_cuda_float32(const char* op, Device device, NamedTensors operands) {
  check_cuda_dtype(op, device, DType::F32, operands);
}

/// Throws "<op> on <device>: <error>" unless a CUDA launcher's error message is empty.
inline void check_launch(const char* op, Device device, const std::string& error) {
  SUBQ_CHECK(error.empty(), "{} on {}: {}", op, to_string(device), error);
}

/// The one way to CUDA code from an op's dispatch: cuda_path() where this build has the CUDA
/// backend. Builds without it leave cuda_path out (its CUDA functions need not exist there); no
/// tensor can be on a GPU in them, so reaching this is an error naming op and device.
template <class CudaPath>
std::invoke_result_t<CudaPath> on_cuda(const char* op, Device device, CudaPath&& cuda_path) {
  if constexpr (build::cuda)
    return std::forward<CudaPath>(cuda_path)();
  else
    SUBQ_FAIL("{} on {}: {}", op, to_string(device), cuda_status());
}

/// on_cuda for a kernel launcher, which returns an error message: throws it, as check_launch does.
template <class Launch>
void launch_on_cuda(const char* op, Device device, Launch&& launch) {
  check_launch(op, device, on_cuda(op, device, std::forward<Launch>(launch)));
}

/// The contract of the float32 element-wise pieces of the layers: x float32, `others` of its
/// dtype on its device; x contiguous when the piece writes it in place.
inline void check_float32_operands(const char* op, const Tensor& x, NamedTensors others,
                                   bool written_in_place = false) {
  SUBQ_CHECK(x.dtype() == DType::F32, "{}: x: expected float32, found {}", op, dtype_name(x.dtype()));
  SUBQ_CHECK(!written_in_place || x.is_contiguous(), "{}: x must be contiguous (it is written in place)", op);
  if (x.device().is_cuda())
    check_cuda_float32(op, x.device(), others);
  else
    check_same_device(op, x.device(), others);
}

}  // namespace subq
