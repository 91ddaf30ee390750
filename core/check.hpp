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
#include <utility>

#include "core/tensor.hpp"

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

}  // namespace subq
