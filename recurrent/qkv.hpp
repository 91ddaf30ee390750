#pragma once
// Internal: the operand contract of the fla-style mixers (linear attention, BASED, GLA, the delta
// rules, mLSTM): q, k (batch, length, heads, d_k) and v (batch, length, heads, d_v), time-major,
// and the element-wise passes that turn them into the operands of the kernel each one runs on.
#include <cstdint>

#include "core/check.hpp"
#include "core/thread_pool.hpp"

namespace subq::recurrent::detail {

struct QkvSizes {
  std::int64_t B, L, H, dk, dv;
};

/// Checks q, k, v as above, and that every one of `others` (optional operands may be undefined)
/// is on the CPU with q's dtype, float32 or float64.
inline QkvSizes check_qkv(const char* op, const Tensor& q, const Tensor& k, const Tensor& v, NamedTensors others = {}) {
  SUBQ_CHECK(q.defined() && q.dim() == 4, "{}: q: expected (batch, length, heads, d_k), found {}", op,
             q.defined() ? to_string(q.shape()) : "nothing");
  const QkvSizes s{q.size(0), q.size(1), q.size(2), q.size(3), v.defined() && v.dim() == 4 ? v.size(3) : 0};
  check_shape(op, "k", k, q.shape());
  SUBQ_CHECK(v.defined() && v.dim() == 4 && v.size(0) == s.B && v.size(1) == s.L && v.size(2) == s.H,
             "{}: v: expected ({}, {}, {}, d_v), found {}", op, s.B, s.L, s.H,
             v.defined() ? to_string(v.shape()) : "nothing");
  SUBQ_CHECK(q.device().is_cpu(), "{}: runs on the CPU; q is on {}", op, to_string(q.device()));
  SUBQ_CHECK(q.dtype() == DType::F32 || q.dtype() == DType::F64, "{}: q: expected float32 or float64, found {}", op,
             dtype_name(q.dtype()));
  check_same_device(op, Device::cpu(), {{"k", &k}, {"v", &v}});
  check_same_device(op, Device::cpu(), others);
  for (const auto& [name, t] : NamedTensors{{"k", &k}, {"v", &v}})
    SUBQ_CHECK(t->dtype() == q.dtype(), "{}: {}: expected {} (q's dtype), found {}", op, name, dtype_name(q.dtype()),
               dtype_name(t->dtype()));
  for (const auto& [name, t] : others)
    SUBQ_CHECK(!t->defined() || t->dtype() == q.dtype(), "{}: {}: expected {} (q's dtype), found {}", op, name,
               dtype_name(q.dtype()), dtype_name(t->dtype()));
  return s;
}

/// Checks an optional operand's shape when it is given.
inline void check_optional_shape(const char* op, const char* name, const Tensor& t, const Shape& expected) {
  if (t.defined()) check_shape(op, name, t, expected);
}

/// t as a contiguous tensor of T (t itself when it already is).
template <class T>
Tensor dense(const Tensor& t) {
  return t.to(dtype_of<T>).contiguous();
}

/// fn(row) for every row in [0, rows), split over the global pool's threads.
template <class Fn>
void for_rows(std::int64_t rows, Fn&& fn) {
  ThreadPool::global().parallel_for(rows, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t row = begin; row < end; ++row) fn(row);
  });
}

}  // namespace subq::recurrent::detail
