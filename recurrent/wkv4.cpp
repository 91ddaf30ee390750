#include "recurrent/wkv4.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/check.hpp"
#include "core/dispatch.hpp"
#include "core/thread_pool.hpp"
#include "core/vector_math.hpp"
#include "recurrent/wkv_cuda.hpp"
#include "scan/scan_operator.hpp"

namespace subq::recurrent {

namespace {

constexpr const char* kOp = "wkv4";
constexpr std::int64_t kChannelBlock = 64;  // the unit of the threads' split of the channels
constexpr double kEmptyMax = -1e38;         // the running maximum of an empty history
constexpr std::int64_t kDefaultChunk = 1024;
constexpr std::int64_t kCudaMinChunk = 64;

// The inputs in the compute type and the problem's sizes.
template <class T>
struct Inputs {
  Tensor k, v, decay, first;  // decay: w = -exp(time_decay)
  std::int64_t B, L, C;
};

// A running state of one batch row's channels, scaled by e^-max: pointers to C values each.
template <class T>
struct StateView {
  T *num, *den, *max;
};

// One step of channels [c, c + n) (n = kLanes or 1): Lanes is an Eigen array of n values, so the
// four exps of a channel go as vector exps across channels. Writes the output when out is given.
template <class T, int n>
void step_channels(const T* w, const T* first, const T* kt, const T* vt, StateView<T> s, std::int64_t c, T* out) {
  using Lanes = Eigen::Array<T, n, 1>;
  using In = Eigen::Map<const Lanes>;
  using Out = Eigen::Map<Lanes>;
  Out num(s.num + c), den(s.den + c), max(s.max + c);
  const Lanes k = In(kt + c), v = In(vt + c), bonus = k + In(first + c);
  // Of the two factors exp(x - max(x, y)) and exp(y - max(x, y)) one is exp(0) = 1 and the other
  // exp(-|x - y|): one exp per pair, and the same bits as two.
  const Lanes one = Lanes::Ones();
  if (out) {  // the output at t: history plus the bonus-weighted current step
    const Lanes history = max, apart = (-(history - bonus).abs()).exp();
    const Lanes e1 = subq::detail::where_at_least(history, bonus, one, apart),
                e2 = subq::detail::where_at_least(history, bonus, apart, one);
    Out(out + c) = (e1 * num + e2 * v) / (e1 * den + e2);
  }
  // The history after t: decayed by e^w, plus the current step; in the frame scaled by e^-m_state
  // each is the scan core's affine step.
  const Lanes decayed = max + In(w + c), m_state = decayed.max(k), apart = (-(decayed - k).abs()).exp();
  const Lanes d1 = subq::detail::where_at_least(decayed, k, one, apart),
              d2 = subq::detail::where_at_least(decayed, k, apart, one);
  num = scan::Affine<Lanes>{d1, d2 * v}.apply(num);
  den = scan::Affine<Lanes>{d1, d2}.apply(den);
  max = m_state;
}

constexpr int kLanes = 16;  // channels per vector step: one AVX-512 register of float32

// Steps channels [c0, c1) of batch row b through times [t0, t1) from state s, a step of all of
// them at a time (they lie side by side in k and v), writing the outputs when out is given.
template <class T>
void step_range(const Inputs<T>& in, std::int64_t b, std::int64_t c0, std::int64_t c1, std::int64_t t0, std::int64_t t1,
                StateView<T> s, T* out) {
  const T* w = in.decay.template data<T>();
  const T* first = in.first.template data<T>();
  for (std::int64_t t = t0; t < t1; ++t) {
    const std::int64_t row = (b * in.L + t) * in.C;
    const T *kt = in.k.template data<T>() + row, *vt = in.v.template data<T>() + row;
    T* out_t = out ? out + row : nullptr;
    std::int64_t c = c0;
    for (; c + kLanes <= c1; c += kLanes) step_channels<T, kLanes>(w, first, kt, vt, s, c, out_t);
    for (; c < c1; ++c) step_channels<T, 1>(w, first, kt, vt, s, c, out_t);
  }
}

template <class T>
StateView<T> row_of(Wkv4State& s, std::int64_t b, std::int64_t C) {
  return {s.num.data<T>() + b * C, s.den.data<T>() + b * C, s.max.data<T>() + b * C};
}

template <class T>
Wkv4State start_state(const Wkv4State& given, std::int64_t B, std::int64_t C) {
  auto make = [&](const Tensor& t, T empty) {
    if (t.defined()) return t.to(dtype_of<T>).contiguous().clone();
    Tensor z = Tensor::empty({B, C}, dtype_of<T>);
    std::fill(z.data<T>(), z.data<T>() + B * C, empty);
    return z;
  };
  return {make(given.num, T(0)), make(given.den, T(0)), make(given.max, T(kEmptyMax))};
}

// The recurrent form: a thread takes its channel blocks of each batch row through the whole
// sequence together, a step of all of them at a time (contiguous in k, v and out).
template <class T>
Wkv4Result recurrent(const Inputs<T>& in, const Wkv4State& initial) {
  Wkv4Result r{Tensor::empty({in.B, in.L, in.C}, dtype_of<T>), start_state<T>(initial, in.B, in.C)};
  const std::int64_t blocks = (in.C + kChannelBlock - 1) / kChannelBlock;
  ThreadPool::global().parallel_for(in.B * blocks, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t task = begin; task < end;) {
      const std::int64_t b = task / blocks, last = std::min(end, (b + 1) * blocks);  // this row's blocks
      step_range(in, b, task % blocks * kChannelBlock, std::min(in.C, (last - b * blocks) * kChannelBlock), 0, in.L,
                 row_of<T>(r.final_state, b, in.C), r.out.data<T>());
      task = last;
    }
  });
  return r;
}

// The chunked form: every chunk's own state from an empty history (parallel), the states
// entering the chunks by passing them along (the scan operator in the scaled frame: decay the
// carried state by e^{Q w}, add the chunk's own), then every chunk rerun from its entering state
// writing the outputs (parallel).
template <class T>
Wkv4Result chunked(const Inputs<T>& in, const Wkv4State& initial, std::int64_t Q) {
  const std::int64_t B = in.B, L = in.L, C = in.C, chunks = (L + Q - 1) / Q;
  Wkv4Result r{Tensor::empty({B, L, C}, dtype_of<T>), start_state<T>(initial, B, C)};
  // own[k] and entering[k]: (batch, channels) states per chunk.
  std::vector<Wkv4State> own(static_cast<std::size_t>(chunks)), entering(static_cast<std::size_t>(chunks));
  for (std::int64_t k = 0; k < chunks; ++k) own[k] = start_state<T>({}, B, C);
  ThreadPool& pool = ThreadPool::global();
  pool.parallel_for(B * chunks, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t task = begin; task < end; ++task) {
      const std::int64_t b = task / chunks, k = task % chunks;
      step_range(in, b, 0, C, k * Q, std::min(L, (k + 1) * Q), row_of<T>(own[k], b, C), static_cast<T*>(nullptr));
    }
  });
  const T* w = in.decay.template data<T>();
  for (std::int64_t k = 0; k < chunks; ++k) {
    entering[k] = {r.final_state.num.clone(), r.final_state.den.clone(), r.final_state.max.clone()};
    const T length = T(std::min(L, (k + 1) * Q) - k * Q);
    for (std::int64_t i = 0; i < B * C; ++i) {
      T& n = r.final_state.num.data<T>()[i];
      T& d = r.final_state.den.data<T>()[i];
      T& m = r.final_state.max.data<T>()[i];
      const T decayed = m + length * w[i % C], m2 = own[k].max.data<T>()[i];
      const T top = std::max(decayed, m2), a1 = std::exp(decayed - top), a2 = std::exp(m2 - top);
      n = a1 * n + a2 * own[k].num.data<T>()[i];
      d = a1 * d + a2 * own[k].den.data<T>()[i];
      m = top;
    }
  }
  pool.parallel_for(B * chunks, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t task = begin; task < end; ++task) {
      const std::int64_t b = task / chunks, k = task % chunks;
      step_range(in, b, 0, C, k * Q, std::min(L, (k + 1) * Q), row_of<T>(entering[k], b, C), r.out.data<T>());
    }
  });
  return r;
}

template <class T>
Wkv4Result run(const Tensor& time_decay, const Tensor& time_first, const Tensor& k, const Tensor& v,
               const Wkv4State& initial, std::int64_t chunk_length) {
  Inputs<T> in{k.to(dtype_of<T>).contiguous(), v.to(dtype_of<T>).contiguous(), time_decay.to(dtype_of<T>).contiguous().clone(),
               time_first.to(dtype_of<T>).contiguous(), k.size(0), k.size(1), k.size(2)};
  activate_span(in.decay.template data<T>(), in.C, Activation::NegExp);  // vector exps: decoding makes it per step
  // Chunks pay when batch x channel blocks leave threads idle and the sequence is long.
  const std::int64_t blocks = in.B * ((in.C + kChannelBlock - 1) / kChannelBlock);
  const bool chunk = chunk_length > 0 ||
                     (blocks < 2 * ThreadPool::global().size() && in.L >= 4 * kDefaultChunk && ThreadPool::global().size() > 1);
  return chunk ? chunked(in, initial, chunk_length > 0 ? chunk_length : kDefaultChunk) : recurrent(in, initial);
}

inline Wkv4Result wkv4_cuda(const Tensor& time_decay, const Tensor& time_first, const Tensor& k, const Tensor& v,
                            const Wkv4State& initial, std::int64_t chunk_length) {
  const Device device = k.device();
  const DType input = k.dtype();
  SUBQ_CHECK(input == DType::F32 || input == DType::F64 || input == DType::BF16,
             "{} on {}: k: expected float32, float64 or bfloat16, found {}", kOp, to_string(device), dtype_name(input));
  check_cuda_dtype(kOp, device, input, {{"v", &v}});
  check_same_device(kOp, device, {{"time_decay", &time_decay}, {"time_first", &time_first}, {"state.num", &initial.num},
                                  {"state.den", &initial.den}, {"state.max", &initial.max}});
  // The weights and the state in the state's dtype: float32, float64 for float64 inputs.
  const DType state = float_precision(input);
  auto as_state = [&](const Tensor& t) { return t.to(state).contiguous(); };
  const std::int64_t B = k.size(0), L = k.size(1), C = k.size(2);
  auto start = [&](const Tensor& given, double empty) {
    if (given.defined()) return as_state(given);
    return Tensor::from_vector(std::vector<double>(std::size_t(B * C), empty), {B, C}).to(state).to(device);
  };
  const Tensor decay = as_state(time_decay), first = as_state(time_first), kc = k.contiguous(), vc = v.contiguous();
  const Tensor num0 = start(initial.num, 0.0), den0 = start(initial.den, 0.0), max0 = start(initial.max, kEmptyMax);
  Wkv4Result r{Tensor::empty({B, L, C}, input, device),
               {Tensor::empty({B, C}, state, device), Tensor::empty({B, C}, state, device), Tensor::empty({B, C}, state, device)}};
  const std::int64_t Q = detail::cuda_chunk_length(B * C, L, chunk_length, kCudaMinChunk);
  detail::Wkv4CudaParams p{input,
                           B,
                           L,
                           C,
                           Q,
                           std::max<std::int64_t>((L + Q - 1) / Q, 1),
                           decay.raw_data(),
                           first.raw_data(),
                           kc.raw_data(),
                           vc.raw_data(),
                           num0.raw_data(),
                           den0.raw_data(),
                           max0.raw_data(),
                           r.out.raw_data(),
                           r.final_state.num.raw_data(),
                           r.final_state.den.raw_data(),
                           r.final_state.max.raw_data(),
                           nullptr};
  const Tensor workspace = Tensor::empty({std::int64_t(detail::wkv4_workspace_bytes(p))}, DType::U8, device);
  p.workspace = workspace.raw_data();
  check_launch(kOp, device, detail::launch_wkv4(p));
  return r;
}

}  // namespace

Wkv4Result wkv4(const Tensor& time_decay, const Tensor& time_first, const Tensor& k, const Tensor& v,
                const Wkv4Options& options) {
  const Wkv4State& state = options.initial_state;
  const std::int64_t chunk_length = options.chunk_length;
  SUBQ_CHECK(k.defined() && k.dim() == 3, "{}: k: expected (batch, length, channels), found {}", kOp,
             k.defined() ? to_string(k.shape()) : "nothing");
  const std::int64_t B = k.size(0), C = k.size(2);
  check_shape(kOp, "v", v, k.shape());
  check_shape(kOp, "time_decay", time_decay, {C});
  check_shape(kOp, "time_first", time_first, {C});
  for (const auto& [name, t] : {std::pair{"state.num", &state.num}, std::pair{"state.den", &state.den},
                                std::pair{"state.max", &state.max}})
    if (t->defined()) check_shape(kOp, name, *t, {B, C});
  SUBQ_CHECK(chunk_length >= 0, "{}: chunk_length must be >= 0, found {}", kOp, chunk_length);
  if (k.device().is_cuda())
    return on_cuda(kOp, k.device(), [&] { return wkv4_cuda(time_decay, time_first, k, v, state, chunk_length); });
  check_same_device(kOp, k.device(), {{"v", &v}, {"time_decay", &time_decay}, {"time_first", &time_first},
                                      {"state.num", &state.num}, {"state.den", &state.den}, {"state.max", &state.max}});
  SUBQ_CHECK(k.dtype() == DType::F32 || k.dtype() == DType::F64, "{}: k: expected float32 or float64, found {}", kOp,
             dtype_name(k.dtype()));
  return dispatch(FloatTypes{}, kOp, k.dtype(),
                  [&](auto zero) { return run<decltype(zero)>(time_decay, time_first, k, v, state, chunk_length); });
}

}  // namespace subq::recurrent
