#include "recurrent/wkv7.hpp"

#include <cmath>
#include <vector>

#include "core/check.hpp"
#include "core/thread_pool.hpp"

namespace subq::recurrent {

namespace {

template <class T>
Wkv7Result run(const Tensor& r_in, const Tensor& w_in, const Tensor& k_in, const Tensor& v_in, const Tensor& a_in,
               const Tensor& b_in, const Tensor& initial_state) {
  const std::int64_t B = r_in.size(0), L = r_in.size(1), H = r_in.size(2), dk = r_in.size(3), dv = v_in.size(3);
  auto as = [](const Tensor& t) { return t.to(dtype_of<T>).contiguous(); };
  const Tensor r = as(r_in), w = as(w_in), k = as(k_in), v = as(v_in), a = as(a_in), b = as(b_in);
  Wkv7Result res{Tensor::zeros({B, L, H, dv}, dtype_of<T>),
                 initial_state.defined() ? as(initial_state).clone() : Tensor::zeros({B, H, dv, dk}, dtype_of<T>)};
  ThreadPool::global().parallel_for(B * H, [&](std::int64_t begin, std::int64_t end) {
    std::vector<T> decay(static_cast<std::size_t>(dk)), sa(static_cast<std::size_t>(dv));
    for (std::int64_t bh = begin; bh < end; ++bh) {
      const std::int64_t bi = bh / H, h = bh % H;
      T* S = res.final_state.data<T>() + bh * dv * dk;
      for (std::int64_t t = 0; t < L; ++t) {
        const std::int64_t key_row = ((bi * L + t) * H + h) * dk, value_row = ((bi * L + t) * H + h) * dv;
        const T *rt = r.data<T>() + key_row, *wt = w.data<T>() + key_row, *kt = k.data<T>() + key_row,
                *at = a.data<T>() + key_row, *bt = b.data<T>() + key_row, *vt = v.data<T>() + value_row;
        for (std::int64_t j = 0; j < dk; ++j) decay[j] = std::exp(wt[j]);
        T* o = res.o.data<T>() + value_row;
        for (std::int64_t i = 0; i < dv; ++i) {
          T* row = S + i * dk;
          T s_a = 0;  // (S a)[i], from the state before the step
          for (std::int64_t j = 0; j < dk; ++j) s_a += row[j] * at[j];
          T out = 0;
          for (std::int64_t j = 0; j < dk; ++j) {
            row[j] = row[j] * decay[j] + s_a * bt[j] + vt[i] * kt[j];
            out += row[j] * rt[j];
          }
          o[i] = out;
        }
      }
    }
  });
  return res;
}

}  // namespace

Wkv7Result wkv7(const Tensor& r, const Tensor& w, const Tensor& k, const Tensor& v, const Tensor& a, const Tensor& b,
                const Tensor& initial_state) {
  constexpr const char* op = "wkv7";
  SUBQ_CHECK(r.defined() && r.dim() == 4, "{}: r: expected (batch, length, heads, d_k), found {}", op,
             r.defined() ? to_string(r.shape()) : "nothing");
  for (const auto& [name, t] : {std::pair{"w", &w}, std::pair{"k", &k}, std::pair{"a", &a}, std::pair{"b", &b}})
    check_shape(op, name, *t, r.shape());
  const std::int64_t B = r.size(0), L = r.size(1), H = r.size(2), dk = r.size(3);
  SUBQ_CHECK(v.defined() && v.dim() == 4 && v.size(0) == B && v.size(1) == L && v.size(2) == H,
             "{}: v: expected ({}, {}, {}, d_v), found {}", op, B, L, H, v.defined() ? to_string(v.shape()) : "nothing");
  if (initial_state.defined()) check_shape(op, "initial_state", initial_state, {B, H, v.size(3), dk});
  SUBQ_CHECK(r.device().is_cpu(), "{}: runs on the CPU only", op);
  SUBQ_CHECK(r.dtype() == DType::F32 || r.dtype() == DType::F64, "{}: r: expected float32 or float64, found {}", op,
             dtype_name(r.dtype()));
  return r.dtype() == DType::F64 ? run<double>(r, w, k, v, a, b, initial_state)
                                 : run<float>(r, w, k, v, a, b, initial_state);
}

}  // namespace subq::recurrent
