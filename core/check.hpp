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
