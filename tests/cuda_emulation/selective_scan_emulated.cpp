// Stands in for ssm/selective_scan.cu, whose CUB block loads and warp shuffles the emulation
// cannot run (that kernel is checked on a GPU): the same launcher and the same arithmetic, one
// (batch, channel) row after another, so that the layers and models around it can be emulated.
#include <type_traits>

#include "core/complex.hpp"
#include "core/math.hpp"
#include "cuda_bf16.h"
#include "scan/scan_operator.hpp"
#include "ssm/selective_scan_cuda.hpp"

namespace subq::ssm::detail {

namespace {

template <class To, class From>
To as(From x) {
  if constexpr (std::is_same_v<From, __nv_bfloat16>) return To(__bfloat162float(x));
  else if constexpr (std::is_same_v<To, __nv_bfloat16>) return __float2bfloat16(float(x));
  else return To(x);
}

// Tin: u, delta, z, out; W: real compute type; Ts: the state (W or complex); Tbc: B and C.
template <class Tin, class W, class Ts>
std::string run(const SelectiveScanParams& p) {
  using Tbc = std::conditional_t<std::is_same_v<Ts, W>, Tin, Ts>;
  auto bc = [&](const GroupedOperand& g, std::int64_t b, std::int64_t d, std::int64_t n, std::int64_t t) {
    const Tbc* base = static_cast<const Tbc*>(g.data);
    return as<Ts>(base[b * g.stride_batch + d / g.channels_per_group * g.stride_group + n * g.stride_n + t * g.stride_t]);
  };
  for (std::int64_t b = 0; b < p.batch; ++b)
    for (std::int64_t d = 0; d < p.dim; ++d) {
      const Tin* u = static_cast<const Tin*>(p.u) + b * p.u_stride_batch + d * p.u_stride_dim;
      const Tin* delta = static_cast<const Tin*>(p.delta) + b * p.delta_stride_batch + d * p.delta_stride_dim;
      const Tin* z = p.z ? static_cast<const Tin*>(p.z) + b * p.z_stride_batch + d * p.z_stride_dim : nullptr;
      const W D = p.D ? static_cast<const W*>(p.D)[d * p.D_stride] : W(0);
      const W bias = p.delta_bias ? static_cast<const W*>(p.delta_bias)[d * p.delta_bias_stride] : W(0);
      Ts* state = static_cast<Ts*>(p.final_state) + (b * p.dim + d) * p.N;
      for (std::int64_t n = 0; n < p.N; ++n)
        state[n] = p.initial_state ? static_cast<const Ts*>(p.initial_state)[b * p.h0_stride_batch + d * p.h0_stride_dim +
                                                                              n * p.h0_stride_n]
                                   : Ts(0);
      for (std::int64_t t = 0; t < p.L; ++t) {
        const W raw = as<W>(delta[t]) + bias, dt = p.delta_softplus ? softplus(raw) : raw, dt_u = dt * as<W>(u[t]);
        W y = 0;
        for (std::int64_t n = 0; n < p.N; ++n) {
          const Ts rate = static_cast<const Ts*>(p.A)[d * p.A_stride_dim + n * p.A_stride_n];
          state[n] = scan::Affine<Ts>{exp_scaled(dt, rate), bc(p.B, b, d, n, t) * Ts(dt_u)}.apply(state[n]);
          y += real_part(bc(p.C, b, d, n, t) * state[n]);
        }
        const W v = (p.complex ? W(2) : W(1)) * y + D * as<W>(u[t]);
        static_cast<Tin*>(p.out)[(b * p.dim + d) * p.L + t] = as<Tin>(z ? v * silu(as<W>(z[t])) : v);
      }
    }
  return {};
}

}  // namespace

std::string launch_selective_scan_cuda(const SelectiveScanParams& p) {
  switch (p.input) {
    case DType::F32: return p.complex ? run<float, float, Complex<float>>(p) : run<float, float, float>(p);
    case DType::F64: return p.complex ? run<double, double, Complex<double>>(p) : run<double, double, double>(p);
    case DType::BF16: return p.complex ? "complex A needs float32 or float64 inputs" : run<__nv_bfloat16, float, float>(p);
    default: return "selective scan: dtype not emulated";
  }
}

}  // namespace subq::ssm::detail
