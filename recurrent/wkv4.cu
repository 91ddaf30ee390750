// CUDA RWKV-4 WKV, the CPU path in recurrent/wkv4.cpp being its spec: one thread per (batch,
// channel) and chunk, the running state (num, den scaled by e^-max, and max) in registers.
//   pass 1: every chunk but the last stepped from the empty history: its own state;
//   pass 2: per (batch, channel), the states entering the chunks, in order;
//   pass 3: every chunk rerun from its entering state, writing the outputs (and the last chunk
//           its end state).
#include <cuda_runtime.h>

#include "core/cuda_convert.cuh"
#include "core/cuda_launch.cuh"
#include "recurrent/wkv_cuda.hpp"
#include "recurrent/wkv_kernels.cuh"
#include "scan/scan_operator.hpp"

namespace subq::recurrent::detail {

namespace {

using subq::detail::convert;

template <class S>
struct Running {
  S num, den, max;
};

// Structure-of-arrays states: count (batch, channel) entries per chunk.
template <class S>
struct States {
  S *num, *den, *max;
  __device__ Running<S> load(std::int64_t i) const { return {num[i], den[i], max[i]}; }
  __device__ void store(std::int64_t i, Running<S> s) const {
    num[i] = s.num;
    den[i] = s.den;
    max[i] = s.max;
  }
};

template <class S>
__device__ constexpr S empty_max() {
  return S(-1e38);  // the running maximum of an empty history, as on the CPU
}

// Steps channel c of batch row b through chunk `chunk` from s; writes outputs when out is given.
template <class T, class S>
__device__ void run_chunk(const Wkv4CudaParams& p, std::int64_t b, std::int64_t c, std::int64_t chunk, Running<S>& s,
                          T* out) {
  const T* k = static_cast<const T*>(p.k);
  const T* v = static_cast<const T*>(p.v);
  const S w = -exp(static_cast<const S*>(p.time_decay)[c]), first = static_cast<const S*>(p.time_first)[c];
  const std::int64_t t0 = chunk * p.chunk_length, t1 = min(p.length, t0 + p.chunk_length);
  for (std::int64_t t = t0; t < t1; ++t) {
    const std::int64_t i = (b * p.length + t) * p.channels + c;
    const S kt = convert<S>(k[i]), vt = convert<S>(v[i]);
    if (out) {
      const S m_out = max(s.max, kt + first);
      const S e1 = exp(s.max - m_out), e2 = exp(kt + first - m_out);
      out[i] = convert<T>((e1 * s.num + e2 * vt) / (e1 * s.den + e2));
    }
    const S m_state = max(s.max + w, kt);
    const S d1 = exp(s.max + w - m_state), d2 = exp(kt - m_state);
    s.num = scan::Affine<S>{d1, d2 * vt}.apply(s.num);
    s.den = scan::Affine<S>{d1, d2}.apply(s.den);
    s.max = m_state;
  }
}

// The workspace holds two sets of per-chunk states, each (chunks, batch, channels) per part.
enum class StateSet { Own = 0, Entering = 1 };

template <class S>
States<S> workspace_states(const Wkv4CudaParams& p, StateSet set) {
  const std::int64_t n = p.chunks * p.batch * p.channels;
  S* base = static_cast<S*>(p.workspace) + 3 * n * int(set);
  return {base, base + n, base + 2 * n};
}

template <class T, class S>
__global__ void chunk_states_kernel(Wkv4CudaParams p, States<S> own) {
  const std::int64_t BC = p.batch * p.channels;
  SUBQ_GRID_STRIDE(i, (p.chunks - 1) * BC) {
    const std::int64_t chunk = i / BC, b = i % BC / p.channels, c = i % p.channels;
    Running<S> s{S(0), S(0), empty_max<S>()};
    run_chunk<T, S>(p, b, c, chunk, s, static_cast<T*>(nullptr));
    own.store(i, s);
  }
}

// The scan operator in the scaled frame: the carried state decayed by e^{q w} over the chunk's q
// steps, then the chunk's own state added, both rescaled to the larger maximum.
template <class S>
__global__ void pass_states_kernel(Wkv4CudaParams p, States<S> own, States<S> entering) {
  const std::int64_t BC = p.batch * p.channels;
  SUBQ_GRID_STRIDE(i, BC) {
    const S w = -exp(static_cast<const S*>(p.time_decay)[i % p.channels]);
    Running<S> s{static_cast<const S*>(p.num0)[i], static_cast<const S*>(p.den0)[i], static_cast<const S*>(p.max0)[i]};
    entering.store(i, s);
    for (std::int64_t chunk = 0; chunk + 1 < p.chunks; ++chunk) {
      const Running<S> o = own.load(chunk * BC + i);
      const S decayed = s.max + S(p.chunk_length) * w, top = max(decayed, o.max);
      const S a1 = exp(decayed - top), a2 = exp(o.max - top);
      s = {a1 * s.num + a2 * o.num, a1 * s.den + a2 * o.den, top};
      entering.store((chunk + 1) * BC + i, s);
    }
  }
}

template <class T, class S>
__global__ void outputs_kernel(Wkv4CudaParams p, States<S> entering) {
  const std::int64_t BC = p.batch * p.channels;
  SUBQ_GRID_STRIDE(i, p.chunks * BC) {
    const std::int64_t chunk = i / BC, b = i % BC / p.channels, c = i % p.channels;
    Running<S> s = entering.load(i);
    run_chunk<T, S>(p, b, c, chunk, s, static_cast<T*>(p.out));
    if (chunk + 1 == p.chunks) States<S>{static_cast<S*>(p.num), static_cast<S*>(p.den), static_cast<S*>(p.max)}.store(i % BC, s);
  }
}

template <class T, class S>
std::string launch(const Wkv4CudaParams& p) {
  using subq::detail::launch_elementwise;
  const std::int64_t BC = p.batch * p.channels;
  const auto own = workspace_states<S>(p, StateSet::Own);
  const auto entering = workspace_states<S>(p, StateSet::Entering);
  if (std::string e = launch_elementwise(chunk_states_kernel<T, S>, (p.chunks - 1) * BC, p, own); !e.empty()) return e;
  if (std::string e = launch_elementwise(pass_states_kernel<S>, BC, p, own, entering); !e.empty()) return e;
  return launch_elementwise(outputs_kernel<T, S>, p.chunks * BC, p, entering);
}

}  // namespace

std::size_t wkv4_workspace_bytes(const Wkv4CudaParams& p) {
  const std::size_t state = p.input == DType::F64 ? sizeof(double) : sizeof(float);
  return 6 * std::size_t(p.chunks * p.batch * p.channels) * state;
}

std::string launch_wkv4(const Wkv4CudaParams& p) {
  return with_input_types(p.input, "wkv4", [&](auto input, auto state) {
    return launch<typename decltype(input)::type, typename decltype(state)::type>(p);
  });
}

}  // namespace subq::recurrent::detail
