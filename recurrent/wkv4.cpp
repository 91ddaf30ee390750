#include "recurrent/wkv4.hpp"

#include <algorithm>
#include <cmath>

#include "core/check.hpp"
#include "core/thread_pool.hpp"
#include "scan/scan_operator.hpp"

namespace subq::recurrent {

namespace {

constexpr const char* kOp = "wkv4";
constexpr std::int64_t kChannelBlock = 64;  // channels stepped together: contiguous, vectorisable
constexpr double kEmptyMax = -1e38;         // the running maximum of an empty history

template <class T>
Wkv4Result run(const Tensor& time_decay, const Tensor& time_first, const Tensor& k, const Tensor& v,
               const Wkv4State& initial) {
  const std::int64_t B = k.size(0), L = k.size(1), C = k.size(2);
  const Tensor kc = k.to(dtype_of<T>).contiguous(), vc = v.to(dtype_of<T>).contiguous();
  const Tensor decay = time_decay.to(dtype_of<T>).contiguous(), first = time_first.to(dtype_of<T>).contiguous();
  Wkv4Result r{Tensor::empty({B, L, C}, dtype_of<T>),
               {Tensor::empty({B, C}, dtype_of<T>), Tensor::empty({B, C}, dtype_of<T>), Tensor::empty({B, C}, dtype_of<T>)}};
  auto start = [&](const Tensor& given, Tensor& out, T empty) {
    if (given.defined())
      out.copy_from(given.to(dtype_of<T>).contiguous());
    else
      std::fill(out.data<T>(), out.data<T>() + B * C, empty);
  };
  start(initial.num, r.state.num, T(0));
  start(initial.den, r.state.den, T(0));
  start(initial.max, r.state.max, T(kEmptyMax));
  const std::int64_t blocks = (C + kChannelBlock - 1) / kChannelBlock;
  ThreadPool::global().parallel_for(B * blocks, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t task = begin; task < end; ++task) {
      const std::int64_t b = task / blocks, c0 = task % blocks * kChannelBlock, c1 = std::min(C, c0 + kChannelBlock);
      T* num = r.state.num.data<T>() + b * C;
      T* den = r.state.den.data<T>() + b * C;
      T* max = r.state.max.data<T>() + b * C;
      for (std::int64_t t = 0; t < L; ++t) {
        const T* kt = kc.data<T>() + (b * L + t) * C;
        const T* vt = vc.data<T>() + (b * L + t) * C;
        T* out = r.out.data<T>() + (b * L + t) * C;
        for (std::int64_t c = c0; c < c1; ++c) {
          const T w = -std::exp(decay.data<T>()[c]), u = first.data<T>()[c];
          // The output at t: history plus the bonus-weighted current step.
          const T m_out = std::max(max[c], kt[c] + u);
          const T e1 = std::exp(max[c] - m_out), e2 = std::exp(kt[c] + u - m_out);
          out[c] = (e1 * num[c] + e2 * vt[c]) / (e1 * den[c] + e2);
          // The history after t: decayed by e^w, plus the current step; in the frame scaled by
          // e^-m_state each is the scan core's affine step.
          const T m_state = std::max(max[c] + w, kt[c]);
          const T d1 = std::exp(max[c] + w - m_state), d2 = std::exp(kt[c] - m_state);
          num[c] = scan::Affine<T>{d1, d2 * vt[c]}.apply(num[c]);
          den[c] = scan::Affine<T>{d1, d2}.apply(den[c]);
          max[c] = m_state;
        }
      }
    }
  });
  return r;
}

}  // namespace

Wkv4Result wkv4(const Tensor& time_decay, const Tensor& time_first, const Tensor& k, const Tensor& v,
                const Wkv4State& state) {
  SUBQ_CHECK(k.defined() && k.dim() == 3, "{}: k: expected (batch, length, channels), found {}", kOp,
             k.defined() ? to_string(k.shape()) : "nothing");
  const std::int64_t B = k.size(0), C = k.size(2);
  check_shape(kOp, "v", v, k.shape());
  check_shape(kOp, "time_decay", time_decay, {C});
  check_shape(kOp, "time_first", time_first, {C});
  for (const auto& [name, t] : {std::pair{"state.num", &state.num}, std::pair{"state.den", &state.den},
                                std::pair{"state.max", &state.max}})
    if (t->defined()) check_shape(kOp, name, *t, {B, C});
  SUBQ_CHECK(k.device().is_cpu() && v.device().is_cpu(), "{}: runs on the CPU only", kOp);
  SUBQ_CHECK(k.dtype() == DType::F32 || k.dtype() == DType::F64, "{}: k: expected float32 or float64, found {}", kOp,
             dtype_name(k.dtype()));
  return k.dtype() == DType::F64 ? run<double>(time_decay, time_first, k, v, state)
                                 : run<float>(time_decay, time_first, k, v, state);
}

}  // namespace subq::recurrent
