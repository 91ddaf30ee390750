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

#include "core/tensor.hpp"

namespace subq {

/// Throws "<op>: <name>: expected shape [..], found [..]" unless t has exactly that shape.
inline void check_shape(const char* op, const char* name, const Tensor& t, const Shape& expected) {
  SUBQ_CHECK(t.defined(), "{}: {} is missing (expected shape {})", op, name, to_string(expected));
  SUBQ_CHECK(t.shape() == expected, "{}: {}: expected shape {}, found {}", op, name, to_string(expected),
             to_string(t.shape()));
}

}  // namespace subq
