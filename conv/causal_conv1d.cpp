#include "conv/causal_conv1d.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <vector>

#include "conv/causal_conv1d_cuda.hpp"
#include "core/check.hpp"
#include "core/dispatch.hpp"
#include "core/thread_pool.hpp"
#include "core/vector_math.hpp"

namespace subq::conv {

namespace {

void check_weights(const char* op, const Tensor& weight, const Tensor& bias, std::int64_t channels) {
  SUBQ_CHECK(weight.defined() && weight.dim() == 2 && weight.size(0) == channels && weight.size(1) >= 1,
             "{}: weight: expected ({}, width), found {}", op, channels,
             weight.defined() ? to_string(weight.shape()) : "nothing");
  if (bias.defined()) check_shape(op, "bias", bias, {channels});
}

// Rows are taken in tiles of kTileRows channels by kTileSteps steps. A tile's inputs are gathered
// into rows, each behind its K - 1 predecessors (x is often time-major, the models' transposed
// projections: then a step of 16 channels is one cache line of float32), and each output row is
// bias + K products of the weights with shifted spans of its input row, vectorised along time.
constexpr std::int64_t kTileRows = 16;
// 16 rows of 256 float32 steps: 16 KiB, within L1 beside the output rows being written.
constexpr std::int64_t kTileSteps = 256;

template <class T>
struct Tile {
  std::int64_t K, stride;  // taps; elements per row: K - 1 predecessors + kTileSteps steps
  std::vector<T> values;
  std::vector<T> streamed;  // a row's outputs on their way to a streamed output
  Tile(std::int64_t taps, bool streams)
      : K(taps),
        stride(taps - 1 + kTileSteps),
        values(std::size_t(kTileRows * stride), T(0)),
        streamed(streams ? std::size_t(kTileSteps) : 0) {}
  T* row(std::int64_t r) { return values.data() + r * stride; }
};

template <class T>
void convolve_tile(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& h0, Activation activation,
                   std::int64_t row0, std::int64_t rows, Tile<T>& tile, CausalConv1dResult& r) {
  const std::int64_t C = x.size(1), L = x.size(2), K = tile.K, x_step = x.stride(2);
  // The pointers and strides once per tile: a decoding step does little else per row.
  const T* xp = x.data<T>();
  const T* wp = w.data<T>();
  const std::int64_t w_row = w.stride(0), w_tap = w.stride(1);
  const T* bp = b.defined() ? b.data<T>() : nullptr;
  const T* h0p = h0.defined() ? h0.data<T>() : nullptr;
  T* outp = r.out.data<T>();
  std::int64_t start[kTileRows];  // where each row's inputs begin in x
  for (std::int64_t i = 0; i < rows; ++i) {
    start[i] = (row0 + i) / C * x.stride(0) + (row0 + i) % C * x.stride(1);
    for (std::int64_t k = 0; k + 1 < K; ++k) tile.row(i)[k] = h0p ? h0p[(row0 + i) * (K - 1) + k] : T(0);
  }
  // The tile's outputs lie together when L fits one span of steps (a decoding step's rows are one
  // value each): activated in one span at the end, else a row's span at a time.
  const bool one_span = L <= kTileSteps;
  for (std::int64_t t0 = 0; t0 < L; t0 += kTileSteps) {
    const std::int64_t n = std::min(kTileSteps, L - t0);
    if (x_step == 1)  // rows contiguous in time: copied as they are
      for (std::int64_t i = 0; i < rows; ++i) std::copy_n(xp + start[i] + t0, n, tile.row(i) + K - 1);
    else
      for (std::int64_t t = 0; t < n; ++t) {
        const T* step = xp + (t0 + t) * x_step;
        for (std::int64_t i = 0; i < rows; ++i) tile.row(i)[K - 1 + t] = step[start[i]];
      }
    for (std::int64_t i = 0; i < rows; ++i) {
      const std::int64_t c = (row0 + i) % C;
      T* out = outp + (row0 + i) * L + t0;
      T* y_values = tile.streamed.empty() ? out : tile.streamed.data();
      Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> y(y_values, n);
      y.setConstant(bp ? bp[c] : T(0));
      for (std::int64_t k = 0; k < K; ++k)
        y += wp[c * w_row + k * w_tap] * Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(tile.row(i) + k, n);
      if (!one_span) activate_span(y_values, n, activation);
      if (!tile.streamed.empty()) stream_copy(y_values, out, n);
      // The row's next span, asked for while the rest of the tile is done: 16 rows far apart
      // are more streams than the prefetchers follow.
      if (x_step == 1 && t0 + kTileSteps < L)
        prefetch_span(xp + start[i] + t0 + kTileSteps, std::min(kTileSteps, L - t0 - kTileSteps));
      // The last K - 1 inputs come in front of the next span.
      std::copy(tile.row(i) + n, tile.row(i) + n + K - 1, tile.row(i));
    }
  }
  if (one_span) activate_span(outp + row0 * L, rows * L, activation);
  T* final_state = r.final_state.data<T>();
  for (std::int64_t i = 0; i < rows; ++i)
    std::copy(tile.row(i), tile.row(i) + K - 1, final_state + (row0 + i) * (K - 1));
}

// A decoding step (L = 1): each row's output is its bias, its K - 1 carried inputs and the new one
// times the taps; a scalar loop per row, as a tile's gathering would cost more than the products.
template <class T>
void convolve_step(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& h0, Activation activation,
                   std::int64_t row0, std::int64_t rows, CausalConv1dResult& r) {
  const std::int64_t C = x.size(1), K = w.size(1), w_row = w.stride(0), w_tap = w.stride(1);
  const T *xp = x.data<T>(), *wp = w.data<T>(), *bp = b.defined() ? b.data<T>() : nullptr;
  const T* h0p = h0.defined() ? h0.data<T>() : nullptr;
  T *out = r.out.data<T>(), *final_state = r.final_state.data<T>();
  for (std::int64_t row = row0; row < row0 + rows; ++row) {
    const std::int64_t c = row % C;
    const T input = xp[row / C * x.stride(0) + c * x.stride(1)];
    T* state = final_state + row * (K - 1);
    T y = bp ? bp[c] : T(0);
    for (std::int64_t k = 0; k + 1 < K; ++k) {
      const T carried = h0p ? h0p[row * (K - 1) + k] : T(0);
      y += wp[c * w_row + k * w_tap] * carried;
      if (k > 0) state[k - 1] = carried;
    }
    out[row] = y + wp[c * w_row + (K - 1) * w_tap] * input;
    if (K > 1) state[K - 2] = input;
  }
  activate_span(out + row0, rows, activation);
}

template <class T>
CausalConv1dResult run(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation activation,
                       const Tensor& initial_state) {
  const std::int64_t B = x.size(0), C = x.size(1), L = x.size(2), K = weight.size(1);
  CausalConv1dResult r{Tensor::empty({B, C, L}, dtype_of<T>), Tensor::empty({B, C, K - 1}, dtype_of<T>)};
  const Tensor w = weight.to(dtype_of<T>), b = bias.defined() ? bias.to(dtype_of<T>).contiguous() : bias;
  const Tensor h0 = initial_state.defined() ? initial_state.to(dtype_of<T>).contiguous() : initial_state;
  const std::int64_t tiles = (B * C + kTileRows - 1) / kTileRows;
  ThreadPool::global().parallel_for(tiles, [&](std::int64_t begin, std::int64_t end) {
    if (L == 1) {
      const std::int64_t row0 = begin * kTileRows;
      return convolve_step<T>(x, w, b, h0, activation, row0, std::min(end * kTileRows, B * C) - row0, r);
    }
    // Streamed only past one span, so that the outputs of a short call are never read back.
    Tile<T> tile(K, L > kTileSteps && streams_past_caches(B * C * L * std::int64_t(sizeof(T))));
    for (std::int64_t i = begin; i < end; ++i) {
      const std::int64_t row0 = i * kTileRows;
      convolve_tile(x, w, b, h0, activation, row0, std::min(kTileRows, B * C - row0), tile, r);
    }
    stream_fence();
  });
  return r;
}

inline CausalConv1dResult causal_conv1d_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                             Activation activation, const Tensor& initial_state) {
  constexpr const char* op = "causal_conv1d";
  const Device device = x.device();
  check_cuda_float32(op, device, {{"x", &x}, {"weight", &weight}, {"bias", &bias}, {"initial_state", &initial_state}});
  const std::int64_t B = x.size(0), C = x.size(1), L = x.size(2), K = weight.size(1);
  CausalConv1dResult r{Tensor::empty({B, C, L}, DType::F32, device), Tensor::empty({B, C, K - 1}, DType::F32, device)};
  const Tensor b = bias.defined() ? bias.contiguous() : bias;
  const Tensor h0 = initial_state.defined() ? initial_state.contiguous() : initial_state;
  const detail::CausalConv1dParams params{
      x.data<float>(), x.stride(0), x.stride(1), x.stride(2), weight.data<float>(), weight.stride(0), weight.stride(1),
      b.defined() ? b.data<float>() : nullptr, h0.defined() ? h0.data<float>() : nullptr, r.out.data<float>(),
      r.final_state.data<float>(), B, C, L, K, activation};
  check_launch(op, device, detail::launch_causal_conv1d(params));
  return r;
}

}  // namespace

CausalConv1dResult causal_conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation activation,
                                 const Tensor& initial_state) {
  constexpr const char* op = "causal_conv1d";
  SUBQ_CHECK(x.defined() && x.dim() == 3, "{}: x: expected (batch, channels, length), found {}", op,
             x.defined() ? to_string(x.shape()) : "nothing");
  SUBQ_CHECK(x.dtype() == DType::F32 || x.dtype() == DType::F64, "{}: x: expected float32 or float64, found {}", op,
             dtype_name(x.dtype()));
  check_weights(op, weight, bias, x.size(1));
  if (initial_state.defined())
    check_shape(op, "initial_state", initial_state, {x.size(0), x.size(1), weight.size(1) - 1});
  if (x.device().is_cuda())
    return on_cuda(op, x.device(), [&] { return causal_conv1d_cuda(x, weight, bias, activation, initial_state); });
  check_same_device(op, Device::cpu(), {{"weight", &weight}, {"bias", &bias}, {"initial_state", &initial_state}});
  return dispatch(FloatTypes{}, op, x.dtype(),
                  [&](auto zero) { return run<decltype(zero)>(x, weight, bias, activation, initial_state); });
}

Tensor causal_conv1d_packed(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation activation,
                            const Packing& packing) {
  SUBQ_CHECK(x.dim() == 3 && x.size(0) == 1 && x.size(2) == packing.total(),
             "causal_conv1d_packed: x: expected (1, channels, {}), found {}", packing.total(), to_string(x.shape()));
  const Tensor out = causal_conv1d(x, weight, bias, activation).out.transpose(1, 2).contiguous();
  const std::int64_t reach = weight.size(1) - 1;  // steps before t that t's taps read
  const Tensor steps = out.select(0, 0);
  for (std::int64_t i = 1; i < packing.count() && reach > 0; ++i) {  // the first sequence reads zeros already
    const std::int64_t at = packing.offset(i), n = std::min(reach, packing.length(i));
    const Tensor head = causal_conv1d(x.slice(2, at, at + n), weight, bias, activation).out;
    steps.slice(0, at, at + n).copy_from(head.select(0, 0).transpose(0, 1).contiguous());
  }
  return out;
}

Tensor causal_conv1d_update(const Tensor& state, const Tensor& x, const Tensor& weight, const Tensor& bias,
                            Activation activation) {
  constexpr const char* op = "causal_conv1d_update";
  SUBQ_CHECK(x.defined() && x.dim() == 2, "{}: x: expected (batch, channels), found {}", op,
             x.defined() ? to_string(x.shape()) : "nothing");
  check_weights(op, weight, bias, x.size(1));
  check_shape(op, "state", state, {x.size(0), x.size(1), weight.size(1) - 1});
  SUBQ_CHECK(state.is_contiguous() && state.dtype() == x.dtype(),
             "{}: state must be contiguous and of x's dtype ({}), found {}", op, dtype_name(x.dtype()),
             dtype_name(state.dtype()));
  const std::int64_t B = x.size(0), C = x.size(1);
  CausalConv1dResult r = causal_conv1d(x.contiguous().view({B, C, 1}), weight, bias, activation, state);
  state.copy_from(r.final_state);
  return r.out.view({B, C});
}

}  // namespace subq::conv
