// CUDA selective scan: one fused kernel, one block per (batch, channel) row. The row is walked in
// tiles of kThreads * kItems steps; each thread loads kItems consecutive steps of u, delta, z
// (CUB warp-transpose loads, so every input is read once and coalesced), then for each state n
// composes its steps into one Affine element, the block scans those elements (scan/block_scan.cuh),
// and the thread replays its steps from the state entering it, accumulating y = C . x in
// registers. The state leaving each tile is carried to the next in shared memory, one per n.
// Inputs are float32, float64 or bfloat16 (computed in float32); complex A with complex B, C.
#include <cuda_runtime.h>

#include <cub/block/block_load.cuh>
#include <cub/block/block_store.cuh>

#include "core/cuda_convert.cuh"
#include "core/cuda_launch.cuh"
#include "core/math.hpp"
#include "scan/block_scan.cuh"
#include "ssm/selective_scan_cuda.hpp"

namespace subq::ssm::detail {

namespace {

using scan::Affine;
using scan::detail::block_exclusive_scan;

template <class Tin_, bool kComplex_, int kThreads_>
struct SelectiveScanTraits {
  using Tin = Tin_;
  using W = typename subq::detail::ComputeOf<Tin>::type;  // real compute type: float or double
  static constexpr bool kComplex = kComplex_;
  using Ts = std::conditional_t<kComplex, Complex<W>, W>;  // state, A
  using Tbc = std::conditional_t<kComplex, Complex<W>, Tin>;  // B and C as stored
  static constexpr int kThreads = kThreads_;
  static constexpr int kWarps = kThreads / 32;
  static constexpr int kItems = sizeof(Ts) >= 16 ? 4 : int(64 / sizeof(Ts));  // 16 floats, 8 doubles
  static constexpr int kTile = kThreads * kItems;
  using LoadIn = cub::BlockLoad<Tin, kThreads, kItems, cub::BLOCK_LOAD_WARP_TRANSPOSE>;
  using LoadBC = cub::BlockLoad<Tbc, kThreads, kItems, cub::BLOCK_LOAD_WARP_TRANSPOSE>;
  using Store = cub::BlockStore<Tin, kThreads, kItems, cub::BLOCK_STORE_WARP_TRANSPOSE>;
  // One load or store at a time, each followed by a barrier before the storage is reused.
  union SharedStorage {
    typename LoadIn::TempStorage load_in;
    typename LoadBC::TempStorage load_bc;
    typename Store::TempStorage store;
  };
};

// kItems steps of one row starting at `start` into registers (zeros past the end).
template <class K, class Load, class T, class Storage>
__device__ void load_items(Storage& storage, const T* row, std::int64_t start, int valid, T (&items)[K::kItems]) {
  Load(storage).Load(row + start, items, valid, T{});
  __syncthreads();
}

// B or C of state n for this thread's steps: loaded when it varies in time, else broadcast.
template <class K>
__device__ void load_bc(typename K::SharedStorage& smem, const GroupedOperand& g, std::int64_t b, std::int64_t d,
                        std::int64_t n, std::int64_t start, int valid, typename K::Ts (&out)[K::kItems]) {
  using Tbc = typename K::Tbc;
  const Tbc* base = static_cast<const Tbc*>(g.data) + b * g.stride_batch + (d / g.channels_per_group) * g.stride_group +
                    n * g.stride_n;
  if (g.stride_t == 0) {
    const typename K::Ts value = subq::detail::convert<typename K::Ts>(*base);
#pragma unroll
    for (int i = 0; i < K::kItems; ++i) out[i] = value;
    return;
  }
  Tbc items[K::kItems];
  load_items<K, typename K::LoadBC>(smem.load_bc, base, start, valid, items);
#pragma unroll
  for (int i = 0; i < K::kItems; ++i) out[i] = subq::detail::convert<typename K::Ts>(items[i]);
}

template <class K>
__global__ void __launch_bounds__(K::kThreads) selective_scan_kernel(SelectiveScanParams p) {
  using Tin = typename K::Tin;
  using W = typename K::W;
  using Ts = typename K::Ts;
  __shared__ typename K::SharedStorage smem;
  __shared__ Affine<Ts> warp_totals[K::kWarps];
  extern __shared__ unsigned char carry_bytes[];
  Ts* carry = reinterpret_cast<Ts*>(carry_bytes);  // (N): the state entering the current tile

  const std::int64_t b = blockIdx.x / p.dim, d = blockIdx.x % p.dim;
  const Tin* u = static_cast<const Tin*>(p.u) + b * p.u_stride_batch + d * p.u_stride_dim;
  const Tin* delta = static_cast<const Tin*>(p.delta) + b * p.delta_stride_batch + d * p.delta_stride_dim;
  const Tin* z = p.z ? static_cast<const Tin*>(p.z) + b * p.z_stride_batch + d * p.z_stride_dim : nullptr;
  const Ts* A = static_cast<const Ts*>(p.A) + d * p.A_stride_dim;
  const W D = p.D ? static_cast<const W*>(p.D)[d * p.D_stride] : W(0);
  const W bias = p.delta_bias ? static_cast<const W*>(p.delta_bias)[d * p.delta_bias_stride] : W(0);
  for (std::int64_t n = threadIdx.x; n < p.N; n += K::kThreads)
    carry[n] = p.initial_state ? static_cast<const Ts*>(p.initial_state)[b * p.h0_stride_batch + d * p.h0_stride_dim +
                                                                          n * p.h0_stride_n]
                               : Ts(0);
  __syncthreads();

  for (std::int64_t start = 0; start < p.L; start += K::kTile) {
    const int valid = int(p.L - start < K::kTile ? p.L - start : K::kTile);
    Tin u_in[K::kItems], delta_in[K::kItems];
    load_items<K, typename K::LoadIn>(smem.load_in, u, start, valid, u_in);
    load_items<K, typename K::LoadIn>(smem.load_in, delta, start, valid, delta_in);
    W dt[K::kItems], dt_u[K::kItems], y[K::kItems];
#pragma unroll
    for (int i = 0; i < K::kItems; ++i) {
      // Steps past the end must be the identity: a zero-padded delta still has softplus(bias) > 0,
      // which would decay the final state.
      const bool in_row = int(threadIdx.x) * K::kItems + i < valid;
      const W raw = subq::detail::convert<W>(delta_in[i]) + bias;
      dt[i] = !in_row ? W(0) : p.delta_softplus ? softplus(raw) : raw;
      dt_u[i] = dt[i] * subq::detail::convert<W>(u_in[i]);
      y[i] = 0;
    }
    for (std::int64_t n = 0; n < p.N; ++n) {
      const Ts rate = A[n * p.A_stride_n];
      Ts Bn[K::kItems], Cn[K::kItems];
      load_bc<K>(smem, p.B, b, d, n, start, valid, Bn);
      load_bc<K>(smem, p.C, b, d, n, start, valid, Cn);
      Affine<Ts> steps[K::kItems];
      Affine<Ts> thread_element = Affine<Ts>::identity();
#pragma unroll
      for (int i = 0; i < K::kItems; ++i) {
        steps[i] = {exp_scaled(dt[i], rate), Bn[i] * Ts(dt_u[i])};
        thread_element = compose(thread_element, steps[i]);
      }
      const Ts entering = carry[n];
      Affine<Ts> tile_element;
      const Affine<Ts> before = block_exclusive_scan<K::kWarps, false>(thread_element, tile_element, warp_totals);
      Ts state = before.apply(entering);
#pragma unroll
      for (int i = 0; i < K::kItems; ++i) {
        state = steps[i].apply(state);
        y[i] += real_part(Cn[i] * state);
      }
      if (threadIdx.x == 0) carry[n] = tile_element.apply(entering);
    }
    Tin out[K::kItems];
    Tin z_in[K::kItems];
    if (z) load_items<K, typename K::LoadIn>(smem.load_in, z, start, valid, z_in);
    // A complex state comes with its conjugate, which the sum leaves out: y counts twice its real part.
    constexpr W scale = K::kComplex ? W(2) : W(1);
#pragma unroll
    for (int i = 0; i < K::kItems; ++i) {
      const W v = scale * y[i] + D * subq::detail::convert<W>(u_in[i]);
      out[i] = subq::detail::convert<Tin>(z ? v * silu(subq::detail::convert<W>(z_in[i])) : v);
    }
    typename K::Store(smem.store).Store(static_cast<Tin*>(p.out) + blockIdx.x * p.L + start, out, valid);
    __syncthreads();
  }
  for (std::int64_t n = threadIdx.x; n < p.N; n += K::kThreads)
    static_cast<Ts*>(p.final_state)[blockIdx.x * p.N + n] = carry[n];
}

constexpr int kThreads = 128;

template <class Tin, bool kComplex>
std::string launch(const SelectiveScanParams& p) {
  using K = SelectiveScanTraits<Tin, kComplex, kThreads>;
  const std::size_t carry_bytes = std::size_t(p.N) * sizeof(typename K::Ts);
  if (carry_bytes > 32 * 1024) return "state size N too large for the kernel's shared memory";
  selective_scan_kernel<K><<<unsigned(p.batch * p.dim), K::kThreads, carry_bytes>>>(p);
  return subq::detail::launch_status();
}

}  // namespace

std::string launch_selective_scan_cuda(const SelectiveScanParams& p) {
  if (p.batch * p.dim > std::int64_t(0x7fffffff)) return "too many rows for one grid";
  if (p.batch * p.dim == 0) return {};
  switch (p.input) {
    case DType::F32: return p.complex ? launch<float, true>(p) : launch<float, false>(p);
    case DType::F64: return p.complex ? launch<double, true>(p) : launch<double, false>(p);
    case DType::BF16: return p.complex ? "complex A needs float32 or float64 inputs" : launch<__nv_bfloat16, false>(p);
    default: return "unsupported input dtype";
  }
}

}  // namespace subq::ssm::detail
