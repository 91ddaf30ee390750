// CUDA RWKV-6 WKV, the CPU path in recurrent/wkv6.cpp being its spec. One block per (batch x
// head, chunk), one thread per value column j holding the state column S[:, j] in registers; a
// tile of steps' r, k and exp(w) rows is staged in shared memory for all columns.
//   pass 1: each chunk stepped from a zero state: its own state and its total decay per key row;
//   (the scan core passes the states along the chunks, recurrent/wkv6.cpp)
//   pass 2: each chunk stepped again from its entering state, writing the outputs.
#include <cuda_runtime.h>

#include "core/cuda_launch.cuh"
#include "recurrent/wkv_cuda.hpp"
#include "recurrent/wkv_kernels.cuh"

namespace subq::recurrent::detail {

namespace {

using subq::detail::convert;

struct ChunkOf {
  std::int64_t chunk, bh, b, h, t0;
  int q;
};

__device__ ChunkOf chunk_of(const Wkv6CudaParams& p) {
  const std::int64_t chunk = blockIdx.x % p.chunks, bh = blockIdx.x / p.chunks, t0 = chunk * p.chunk_length;
  const std::int64_t q = p.s.length - t0 < p.chunk_length ? p.s.length - t0 : p.chunk_length;
  return {chunk, bh, bh / p.s.heads, bh % p.s.heads, t0, int(q)};
}

// Where pass 1 and pass 2 start and what they write.
template <class T, class S>
struct ChunkIo {
  const S* initial;  // pass 2, chunk 0: (batch, heads, d_k, d_v), or null for zeros
  const S* passed;   // pass 2, chunk c > 0: ((batch x heads x d_k), d_v, chunks), entry c - 1
  S* own;            // pass 1: laid out like passed, entry c
  S* decay;          // pass 1: ((batch x heads x d_k), chunks)
  T* o;              // pass 2
  S* final_state;    // pass 2, last chunk: like initial
};

template <class T, class S, int kDk, bool kOutputs>
__global__ void chunk_kernel(Wkv6CudaParams p, ChunkIo<T, S> io) {
  constexpr int kSteps = steps_per_tile<kDk>();
  __shared__ S r_tile[kSteps][kDk], k_tile[kSteps][kDk], decay_tile[kSteps][kDk], u_row[kDk], total[kDk];
  const ChunkOf c = chunk_of(p);
  const std::int64_t L = p.s.length, H = p.s.heads, dk = p.s.dk, dv = p.s.dv, j = threadIdx.x;
  // entry(i): this column's element of key row i within a (.., d_k, d_v) state of this head.
  auto entry = [&](std::int64_t i) { return (c.bh * dk + i) * dv + j; };
  S state[kDk];
#pragma unroll
  for (int i = 0; i < kDk; ++i) {
    S start = S(0);
    if (kOutputs && i < dk)
      start = c.chunk > 0 ? io.passed[entry(i) * p.chunks + c.chunk - 1] : io.initial ? io.initial[entry(i)] : S(0);
    state[i] = start;
  }
  for (std::int64_t i = threadIdx.x; i < dk; i += blockDim.x) {
    u_row[i] = convert<S>(static_cast<const T*>(p.u)[c.h * dk + i]);
    total[i] = S(1);
  }
  const T* v = static_cast<const T*>(p.v);
  for (int s0 = 0; s0 < c.q; s0 += kSteps) {
    const int steps = c.q - s0 < kSteps ? c.q - s0 : kSteps;
    __syncthreads();  // the previous tile is consumed
    const std::int64_t t0 = c.t0 + s0;
    if (kOutputs) stage_key_rows<kDk, kSteps>(r_tile, static_cast<const T*>(p.r), c.b, c.h, t0, steps, L, H, dk, Identity<S>{});
    stage_key_rows<kDk, kSteps>(k_tile, static_cast<const T*>(p.k), c.b, c.h, t0, steps, L, H, dk, Identity<S>{});
    stage_key_rows<kDk, kSteps>(decay_tile, static_cast<const T*>(p.w), c.b, c.h, t0, steps, L, H, dk, Exp<S>{});
    __syncthreads();
    if (!kOutputs)
      for (std::int64_t i = threadIdx.x; i < dk; i += blockDim.x)
        for (int s = 0; s < steps; ++s) total[i] *= decay_tile[s][i];
    for (int s = 0; s < steps; ++s) {
      const std::int64_t row = (c.b * L + t0 + s) * H + c.h;
      const S vj = convert<S>(v[row * dv + j]);
      S y = S(0);
#pragma unroll
      for (int i = 0; i < kDk; ++i)
        if (i < dk) {
          const S kv = k_tile[s][i] * vj;
          if (kOutputs) y += r_tile[s][i] * (state[i] + u_row[i] * kv);
          state[i] = decay_tile[s][i] * state[i] + kv;
        }
      if (kOutputs) io.o[row * dv + j] = convert<T>(y);
    }
  }
#pragma unroll
  for (int i = 0; i < kDk; ++i)
    if (i < dk) {
      if (!kOutputs)
        io.own[entry(i) * p.chunks + c.chunk] = state[i];
      else if (c.chunk + 1 == p.chunks)
        io.final_state[entry(i)] = state[i];
    }
  if (!kOutputs)  // each total[i] was made by this same thread
    for (std::int64_t i = threadIdx.x; i < dk; i += blockDim.x) io.decay[(c.bh * dk + i) * p.chunks + c.chunk] = total[i];
}

template <bool kOutputs>
std::string launch_pass(const Wkv6CudaParams& p, const void* initial, const void* passed, void* own, void* decay, void* o,
                        void* final_state) {
  return with_input_types(p.s.input, "wkv6", [&](auto input, auto state) {
    using T = typename decltype(input)::type;
    using S = typename decltype(state)::type;
    return with_key_dim(p.s.dk, "wkv6", [&](auto key_dim) {
      const ChunkIo<T, S> io{static_cast<const S*>(initial), static_cast<const S*>(passed), static_cast<S*>(own),
                             static_cast<S*>(decay), static_cast<T*>(o), static_cast<S*>(final_state)};
      chunk_kernel<T, S, decltype(key_dim)::value, kOutputs>
          <<<unsigned(p.chunks * p.s.batch * p.s.heads), unsigned(p.s.dv)>>>(p, io);
      return subq::detail::launch_status();
    });
  });
}

}  // namespace

std::string launch_wkv6_chunk_states(const Wkv6CudaParams& p, void* own, void* decay) {
  return launch_pass<false>(p, nullptr, nullptr, own, decay, nullptr, nullptr);
}

std::string launch_wkv6_outputs(const Wkv6CudaParams& p, const void* initial_state, const void* passed, void* o,
                                void* final_state) {
  return launch_pass<true>(p, initial_state, passed, nullptr, nullptr, o, final_state);
}

}  // namespace subq::recurrent::detail
