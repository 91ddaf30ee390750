// CUDA linear recurrence h[t] = a[t]*h[t-1] + b[t] over rows of (batch, channels, length).
//
// One fused kernel scans a piece ("segment") of one row per block, tile by tile: each thread
// loads kItems consecutive steps (CUB block loads, coalesced through a warp transpose), composes
// them into one Affine element, the block scans those elements with warp shuffles and a pass
// over the warp totals, and each thread then replays its steps from the state entering it,
// writing h. The state entering the next tile is carried in registers, in fp32 for fp32, bf16 and
// f16 inputs. Long rows with few channels are cut into several segments so that the GPU fills:
// a reduce pass gives every segment's element, a block scan over those elements the state
// entering each segment (the parallel form of chunk_state_passing in scan/scan_operator.hpp), and
// the scan pass runs from there.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cub/block/block_load.cuh>
#include <cub/block/block_store.cuh>

#include "core/cuda_convert.cuh"
#include "core/cuda_launch.cuh"
#include "scan/block_scan.cuh"
#include "scan/linear_recurrence_cuda.hpp"
#include "scan/scan_operator.hpp"

namespace subq::scan::detail {

namespace {

template <class Tin>
__host__ __device__ Tin one() {
  if constexpr (std::is_same_v<Tin, __nv_bfloat16>)
    return __float2bfloat16(1.0f);
  else if constexpr (std::is_same_v<Tin, __half>)
    return __float2half(1.0f);
  else
    return Tin(1);
}

template <class Tin_, int kThreads_, bool kReverse_>
struct LinearRecurrenceTraits {
  using Tin = Tin_;
  using Ts = typename subq::detail::ComputeOf<Tin>::type;
  static constexpr int kThreads = kThreads_;
  static constexpr int kWarps = kThreads / 32;
  // 32 bytes of state per thread and tile: 8 floats, 4 doubles or complex64, 2 complex128.
  static constexpr int kItems = sizeof(Ts) >= 32 ? 1 : int(32 / sizeof(Ts));
  static constexpr int kTile = kThreads * kItems;
  static constexpr bool kReverse = kReverse_;
  using Load = cub::BlockLoad<Tin, kThreads, kItems, cub::BLOCK_LOAD_WARP_TRANSPOSE>;
  using Store = cub::BlockStore<Ts, kThreads, kItems, cub::BLOCK_STORE_WARP_TRANSPOSE>;
  // a and b have their own load storage so that both loads are in flight at once.
  union SharedStorage {
    struct {
      typename Load::TempStorage a;
      typename Load::TempStorage b;
    } load;
    typename Store::TempStorage store;
  };
};

enum class Pass { Reduce, Scan };

// grid.x = rows * segments; block i handles segment i % segments of row i / segments.
// Reduce: writes the segment's element to elements[row * segments + k] (k: scan-order index).
// Scan: starts from carries[row * segments + k] (or h0 with one segment) and writes h.
template <class K, Pass kPass>
__global__ void __launch_bounds__(K::kThreads) linear_recurrence_kernel(LinearRecurrenceParams p,
                                                                         std::int64_t segments,
                                                                         std::int64_t segment_length,
                                                                         Affine<typename K::Ts>* elements,
                                                                         const typename K::Ts* carries) {
  using Tin = typename K::Tin;
  using Ts = typename K::Ts;
  __shared__ typename K::SharedStorage smem;
  __shared__ Affine<Ts> warp_totals[K::kWarps];

  const std::int64_t row = blockIdx.x / segments, segment = blockIdx.x % segments;
  const std::int64_t bi = row / p.channels, di = row % p.channels;
  const Tin* a = static_cast<const Tin*>(p.a) + bi * p.a_stride_batch + di * p.a_stride_channel;
  const Tin* b = static_cast<const Tin*>(p.b) + bi * p.b_stride_batch + di * p.b_stride_channel;
  Ts* h = static_cast<Ts*>(p.h) + row * p.length;
  const std::int64_t begin = segment * segment_length;
  const std::int64_t end = begin + segment_length < p.length ? begin + segment_length : p.length;
  const std::int64_t k = K::kReverse ? segments - 1 - segment : segment;  // scan-order index
  const int tiles = int((end - begin + K::kTile - 1) / K::kTile);

  Ts carry{};
  if constexpr (kPass == Pass::Scan)
    carry = segments == 1 ? static_cast<const Ts*>(p.h0)[bi * p.h0_stride_batch + di * p.h0_stride_channel]
                          : carries[row * segments + k];
  Affine<Ts> segment_element = Affine<Ts>::identity();

  for (int i = 0; i < tiles; ++i) {
    const std::int64_t start = begin + std::int64_t(K::kReverse ? tiles - 1 - i : i) * K::kTile;
    const int valid = int(end - start < K::kTile ? end - start : K::kTile);
    Tin a_in[K::kItems], b_in[K::kItems];
    // Steps past the end are the identity (a = 1, b = 0).
    typename K::Load(smem.load.a).Load(a + start, a_in, valid, one<Tin>());
    typename K::Load(smem.load.b).Load(b + start, b_in, valid, Tin(0));
    Ts av[K::kItems], bv[K::kItems];
    Affine<Ts> thread_element = Affine<Ts>::identity();
#pragma unroll
    for (int j = 0; j < K::kItems; ++j) {
      const int item = K::kReverse ? K::kItems - 1 - j : j;
      av[item] = subq::detail::convert<Ts>(a_in[item]);
      bv[item] = subq::detail::convert<Ts>(b_in[item]);
      thread_element = compose(thread_element, Affine<Ts>{av[item], bv[item]});
    }
    Affine<Ts> tile_element;
    const Affine<Ts> before = block_exclusive_scan<K::kWarps, K::kReverse>(thread_element, tile_element, warp_totals);
    if constexpr (kPass == Pass::Reduce) {
      segment_element = compose(segment_element, tile_element);
    } else {
      Ts state = before.apply(carry);
#pragma unroll
      for (int j = 0; j < K::kItems; ++j) {
        const int item = K::kReverse ? K::kItems - 1 - j : j;
        state = Affine<Ts>{av[item], bv[item]}.apply(state);
        bv[item] = state;
      }
      // The block scan's barriers ordered every load before this store into the same storage.
      typename K::Store(smem.store).Store(h + start, bv, valid);
      __syncthreads();
      carry = tile_element.apply(carry);
    }
  }
  if (threadIdx.x != 0) return;
  if constexpr (kPass == Pass::Reduce) {
    elements[row * segments + k] = segment_element;
  } else if (k == segments - 1) {
    static_cast<Ts*>(p.final_state)[row] = carry;
  }
}

// One block per row: the state entering each segment, by a block scan over the segments'
// elements (stored in scan order), kThreads segments at a time.
template <class K>
__global__ void __launch_bounds__(K::kThreads) segment_state_passing_kernel(LinearRecurrenceParams p,
                                                                             std::int64_t segments,
                                                                             const Affine<typename K::Ts>* elements,
                                                                             typename K::Ts* carries) {
  using Ts = typename K::Ts;
  __shared__ Affine<Ts> warp_totals[K::kWarps];
  const std::int64_t row = blockIdx.x, bi = row / p.channels, di = row % p.channels;
  Ts carry = static_cast<const Ts*>(p.h0)[bi * p.h0_stride_batch + di * p.h0_stride_channel];
  for (std::int64_t first = 0; first < segments; first += K::kThreads) {
    const std::int64_t k = first + threadIdx.x;
    const Affine<Ts> element = k < segments ? elements[row * segments + k] : Affine<Ts>::identity();
    Affine<Ts> total;
    const Affine<Ts> before = block_exclusive_scan<K::kWarps, K::kReverse>(element, total, warp_totals);
    if (k < segments) carries[row * segments + k] = before.apply(carry);
    carry = total.apply(carry);
  }
}

constexpr int kThreads = 128;

template <class Tin, bool kReverse>
using Kernel = LinearRecurrenceTraits<Tin, kThreads, kReverse>;

template <class Tin>
LinearRecurrencePlan plan(const LinearRecurrenceParams& p, std::int64_t chunk_length) {
  using K = Kernel<Tin, false>;
  using Ts = typename K::Ts;
  const std::int64_t rows = p.batch * p.channels;
  const std::int64_t tiles = (p.length + K::kTile - 1) / K::kTile;
  std::int64_t tiles_per_segment;
  if (chunk_length > 0) {
    tiles_per_segment = (chunk_length + K::kTile - 1) / K::kTile;
  } else {
    // Enough blocks for ~8 per multiprocessor.
    const std::int64_t wanted = std::int64_t(subq::detail::multiprocessors()) * 8;
    const std::int64_t segments = rows >= wanted ? 1 : (wanted + rows - 1) / rows;
    tiles_per_segment = (tiles + segments - 1) / segments;
  }
  tiles_per_segment = std::max<std::int64_t>(1, tiles_per_segment);
  const std::int64_t segments = std::max<std::int64_t>(1, (tiles + tiles_per_segment - 1) / tiles_per_segment);
  const std::size_t workspace =
      segments > 1 ? std::size_t(rows * segments) * (sizeof(Affine<Ts>) + sizeof(Ts)) : 0;
  return {segments, tiles_per_segment * K::kTile, workspace};
}

template <class Tin, bool kReverse>
void launch(const LinearRecurrenceParams& p, const LinearRecurrencePlan& pl, void* workspace) {
  using K = Kernel<Tin, kReverse>;
  using Ts = typename K::Ts;
  const std::int64_t rows = p.batch * p.channels;
  auto* elements = static_cast<Affine<Ts>*>(workspace);
  auto* carries = reinterpret_cast<Ts*>(elements + (workspace ? rows * pl.segments : 0));
  const unsigned blocks = unsigned(rows * pl.segments);
  if (pl.segments > 1) {
    linear_recurrence_kernel<K, Pass::Reduce><<<blocks, K::kThreads>>>(p, pl.segments, pl.segment_length, elements, nullptr);
    // The elements are in scan order, so the passing scans forward whatever the direction.
    segment_state_passing_kernel<Kernel<Tin, false>><<<unsigned(rows), K::kThreads>>>(p, pl.segments, elements, carries);
  }
  linear_recurrence_kernel<K, Pass::Scan><<<blocks, K::kThreads>>>(p, pl.segments, pl.segment_length, nullptr, carries);
}

template <class F>
auto visit_input(DType input, F&& f) {
  switch (input) {
    case DType::F32: return f(float{});
    case DType::F64: return f(double{});
    case DType::BF16: return f(__nv_bfloat16{});
    case DType::F16: return f(__half{});
    case DType::C64: return f(complex64{});
    case DType::C128: return f(complex128{});
    default: return f(nullptr);
  }
}

}  // namespace

LinearRecurrencePlan plan_linear_recurrence_cuda(const LinearRecurrenceParams& p, std::int64_t chunk_length) {
  return visit_input(p.input, [&](auto tag) -> LinearRecurrencePlan {
    using Tin = decltype(tag);
    if constexpr (std::is_same_v<Tin, std::nullptr_t>)
      return {1, 0, 0};
    else
      return plan<Tin>(p, chunk_length);
  });
}

std::string launch_linear_recurrence_cuda(const LinearRecurrenceParams& p, const LinearRecurrencePlan& pl,
                                          void* workspace) {
  const std::int64_t rows = p.batch * p.channels;
  if (rows * pl.segments > std::int64_t(0x7fffffff)) return "too many rows and segments for one grid";
  if (rows == 0) return {};
  // With length 0 each row is one segment of no tiles: the scan pass writes final_state = h0.
  const bool known = visit_input(p.input, [&](auto tag) {
    using Tin = decltype(tag);
    if constexpr (std::is_same_v<Tin, std::nullptr_t>) {
      return false;
    } else {
      if (p.reverse)
        launch<Tin, true>(p, pl, workspace);
      else
        launch<Tin, false>(p, pl, workspace);
      return true;
    }
  });
  if (!known) return "unsupported input dtype";
  return subq::detail::launch_status();
}

}  // namespace subq::scan::detail
