#pragma once
// Internal: the host side of recurrent/ssd_form.hpp's layouts, for the ops that run on SSD with a
// (d_k x d_v) state S and, optionally, a running key sum z (linear attention, mLSTM).
#include "core/row_pass.hpp"
#include "recurrent/qkv.hpp"
#include "recurrent/ssd_form.hpp"

namespace subq::recurrent::detail {

/// SSD's initial state (batch, heads, P, d_k) from S0 (batch, heads, d_k, d_v) and z0 (batch,
/// heads, d_k), P = d_v + 1 when z rides along, else d_v; undefined (zeros) when both are.
template <class T>
Tensor ssd_initial_state(const char* op, const Tensor& S0_in, const Tensor& z0_in, std::int64_t P, const QkvSizes& s,
                         Device device) {
  if (!S0_in.defined() && !z0_in.defined()) return {};
  const Tensor S0 = S0_in.defined() ? dense<T>(S0_in) : Tensor{}, z0 = z0_in.defined() ? dense<T>(z0_in) : Tensor{};
  Tensor state = Tensor::empty({s.B, s.H, P, s.dk}, dtype_of<T>, device);
  subq::detail::run_row_pass(
      op, device, PackSsdState<T>{data_or_null<T>(S0), data_or_null<T>(z0), state.data<T>(), s.dk, s.dv, P}, s.B * s.H);
  return state;
}

/// S (batch, heads, d_k, d_v) and, where defined, z (batch, heads, d_k) written from SSD's final
/// state (batch, heads, P, d_k).
template <class T>
void unpack_ssd_state(const char* op, const Tensor& ssd_state, const Tensor& S, const Tensor& z, const QkvSizes& s) {
  const Tensor state = ssd_state.contiguous();
  subq::detail::run_row_pass(
      op, state.device(),
      UnpackSsdState<T>{state.data<T>(), S.data<T>(), z.defined() ? z.data<T>() : nullptr, s.dk, s.dv, state.size(2)},
      s.B * s.H);
}

}  // namespace subq::recurrent::detail
