#pragma once
// Internal: the operand contract of the fla-style mixers (linear attention, BASED, GLA, the delta
// rules, mLSTM): q, k (batch, length, heads, d_k) and v (batch, length, heads, d_v), time-major.
#include <cstdint>

#include "core/check.hpp"

namespace subq::recurrent::detail {

struct QkvSizes {
  std::int64_t B, L, H, dk, dv;
};

/// Checks q, k, v as above, and that every one of `others` (optional operands may be undefined)
/// is on q's device with q's dtype: float32 or float64 on the CPU, float32 on CUDA.
inline QkvSizes check_qkv(const char* op, const Tensor& q, const Tensor& k, const Tensor& v, NamedTensors others = {}) {
  SUBQ_CHECK(q.defined() && q.dim() == 4, "{}: q: expected (batch, length, heads, d_k), found {}", op,
             q.defined() ? to_string(q.shape()) : "nothing");
  const QkvSizes s{q.size(0), q.size(1), q.size(2), q.size(3), v.defined() && v.dim() == 4 ? v.size(3) : 0};
  check_shape(op, "k", k, q.shape());
  SUBQ_CHECK(v.defined() && v.dim() == 4 && v.size(0) == s.B && v.size(1) == s.L && v.size(2) == s.H,
             "{}: v: expected ({}, {}, {}, d_v), found {}", op, s.B, s.L, s.H, v.defined() ? to_string(v.shape()) : "nothing");
  const Device device = q.device();
  if (device.is_cuda())
    SUBQ_CHECK(q.dtype() == DType::F32, "{} on {}: q: expected float32, found {}", op, to_string(device),
               dtype_name(q.dtype()));
  else
    SUBQ_CHECK(q.dtype() == DType::F32 || q.dtype() == DType::F64, "{}: q: expected float32 or float64, found {}", op,
               dtype_name(q.dtype()));
  check_same_device(op, device, {{"k", &k}, {"v", &v}});
  check_same_device(op, device, others);
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

/// t's elements as T, or null for an undefined t.
template <class T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

/// t on the CPU in float64 (the recurrent specifications' copies).
inline Tensor host_f64(const Tensor& t) { return t.to(Device::cpu()).to(DType::F64).contiguous(); }

}  // namespace subq::recurrent::detail
