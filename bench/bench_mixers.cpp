// Prefill and decoding throughput of the sequence mixers at the shapes of 1.5B-class models,
// batch 1, float32 on the CPU (tokens/s, the fraction of the roofline of bench/roofline.hpp with
// the ceiling that binds, and each run's peak host memory above what was resident before it);
// attention also on CUDA where a GPU is present:
//   wkv6 / wkv7 / wkv4   RWKV: 32 heads x 64 (wkv4: 2048 channels); prefill L = 1K ... 64K
//                        (wkv7 also in its recurrent form, for the ratio),
//                        decoding one token from a carried state (each of the three)
//   retention            RetNet: 8 heads, key 256, value 512; prefill, and decoding one token
//   attention            16 heads x 128; prefill L = 1K ... 32K (tiled), decoding one token for
//                        each of 2 sequences against KV caches of L tokens (grows with L, unlike
//                        the recurrent mixers)
//   fft_conv / hyena     the FFT long convolution, and the whole Hyena operator (order 2), at
//                        D = 864, L = 8K ... 1M
//   linear_attn, based,  the fla-style families at 1.3B-class widths, prefill L = 1K ... 16K:
//   gla, delta_rule,     linear attention 16 heads x 128 (elu+1, normalised); BASED 16 heads, 16
//   gated_delta_rule,    features, values of 128; GLA 4 heads, keys 256, values 512; the delta
//   mlstm, rglru,        rules 16 heads x 128 (gated: Gated DeltaNet's decay); mLSTM 8 heads,
//   swa                  keys 256, values 512; RG-LRU 2560 channels in 10 blocks; sliding-window
//                        attention 16 heads x 128 over W = 2048 keys, L = 4K ... 32K
// The recurrent mixers' prefills run once untimed first: a first call's fresh pages are the
// allocator's cost, not the kernel's (attention's and the convolutions' calls are long enough).
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cmath>
#include <random>

#include "attention/attention.hpp"
#include "bench/bench_device.hpp"
#include "bench/operator_costs.hpp"
#include "bench/peak_memory.hpp"
#include "bench/random_hyena.hpp"
#include "bench/roofline_counters.hpp"
#include "conv/fft_conv.hpp"
#include "core/memory.hpp"
#include "recurrent/based.hpp"
#include "recurrent/delta_rule.hpp"
#include "recurrent/gla.hpp"
#include "recurrent/linear_attention.hpp"
#include "recurrent/mlstm.hpp"
#include "recurrent/retention.hpp"
#include "recurrent/rglru.hpp"
#include "recurrent/wkv4.hpp"
#include "recurrent/wkv6.hpp"
#include "recurrent/wkv7.hpp"

using namespace subq;

namespace {

Tensor uniform(const Shape& shape, float lo, float hi, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  Tensor t = Tensor::empty(shape, DType::F32);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

// The run's peak resident memory above what was resident when it began, inputs included.
class PeakMemory {
 public:
  void report(benchmark::State& state) const {
    state.counters[run_.per_run() ? "peak_MiB" : "process_peak_MiB"] = run_.bytes() / double(1 << 20);
  }

 private:
  bench::RunPeakMemory run_;
};

void tokens_per_second(benchmark::State& state, std::int64_t tokens) {
  state.counters["tokens/s"] = benchmark::Counter(double(tokens) * double(state.iterations()), benchmark::Counter::kIsRate);
}

// A decoding step's cost: one step's, plus reading the carried state (`copies` tensors like s).
bench::Cost with_state_read(bench::Cost cost, const Tensor& s, int copies = 1) {
  cost.bytes += double(copies) * double(s.numel()) * bench::costs::kFloat;
  return cost;
}

// A CPU prefill of L tokens through `run`, warmed up once, reported against `cost`; `memory` began
// before the inputs were made, so that its peak includes them.
template <class Run>
void prefill_benchmark(benchmark::State& state, const PeakMemory& memory, std::int64_t L, Run run,
                       const bench::Cost& cost) {
  benchmark::DoNotOptimize(run().raw_data());  // warm-up
  const bench::RooflineReport roofline(Device::cpu());
  for (auto _ : state) benchmark::DoNotOptimize(run().raw_data());
  memory.report(state);
  tokens_per_second(state, L);
  roofline.report(state, cost);
}

constexpr std::int64_t kRwkvHeads = 32, kRwkvHead = 64;

void BM_wkv6_prefill(benchmark::State& state) {
  const PeakMemory memory;
  const std::int64_t L = state.range(0), H = kRwkvHeads, d = kRwkvHead;
  const Tensor r = uniform({1, L, H, d}, -1, 1, 1), k = uniform({1, L, H, d}, -1, 1, 2), v = uniform({1, L, H, d}, -1, 1, 3),
               w = uniform({1, L, H, d}, -2, -0.01f, 4), u = uniform({H, d}, -1, 1, 5);
  prefill_benchmark(
      state, memory, L, [&] { return recurrent::wkv6(r, k, v, w, u).o; }, bench::costs::wkv6(L, H, d));
}

void BM_wkv6_decode(benchmark::State& state) {
  const PeakMemory memory;
  const std::int64_t H = kRwkvHeads, d = kRwkvHead;
  const Tensor r = uniform({1, 1, H, d}, -1, 1, 1), k = uniform({1, 1, H, d}, -1, 1, 2), v = uniform({1, 1, H, d}, -1, 1, 3),
               w = uniform({1, 1, H, d}, -2, -0.01f, 4), u = uniform({H, d}, -1, 1, 5);
  Tensor s = uniform({1, H, d, d}, -1, 1, 6);
  const bench::RooflineReport roofline(Device::cpu());
  for (auto _ : state) s = recurrent::wkv6_recurrent(r, k, v, w, u, s).final_state;
  memory.report(state);
  tokens_per_second(state, 1);
  roofline.report(state, with_state_read(bench::costs::wkv6(1, H, d), s));
}

// The RWKV-7 delta rule's inputs at L steps: a = -kk, b = kk * 0.5 with kk unit-norm per head.
struct Wkv7Inputs {
  Tensor r, w, k, v, a, b;
};

Wkv7Inputs wkv7_inputs(std::int64_t L) {
  const std::int64_t H = kRwkvHeads, d = kRwkvHead;
  Wkv7Inputs in{uniform({1, L, H, d}, -1, 1, 1), uniform({1, L, H, d}, -0.6f, 0, 2), uniform({1, L, H, d}, -1, 1, 3),
                uniform({1, L, H, d}, -1, 1, 4), uniform({1, L, H, d}, -1, 1, 5), Tensor::empty({1, L, H, d}, DType::F32)};
  for (std::int64_t row = 0; row < L * H; ++row) {
    float* kk = in.a.data<float>() + row * d;
    float norm = 0;
    for (std::int64_t j = 0; j < d; ++j) norm += kk[j] * kk[j];
    for (std::int64_t j = 0; j < d; ++j) {
      kk[j] /= -std::sqrt(norm);
      in.b.data<float>()[row * d + j] = -0.5f * kk[j];
    }
  }
  return in;
}

template <bool kChunked>
void BM_wkv7_prefill(benchmark::State& state) {
  const PeakMemory memory;
  const std::int64_t L = state.range(0);
  const Wkv7Inputs in = wkv7_inputs(L);
  // The default form (stepped, on the CPU), or chunks of 16 steps.
  const recurrent::Wkv7Options options{{}, kChunked ? 16 : 0};
  prefill_benchmark(
      state, memory, L, [&] { return recurrent::wkv7(in.r, in.w, in.k, in.v, in.a, in.b, options).o; },
      bench::costs::wkv7(L, kRwkvHeads, kRwkvHead));
}

void BM_wkv7_decode(benchmark::State& state) {
  const PeakMemory memory;
  const Wkv7Inputs in = wkv7_inputs(1);
  Tensor s = uniform({1, kRwkvHeads, kRwkvHead, kRwkvHead}, -1, 1, 6);
  const bench::RooflineReport roofline(Device::cpu());
  for (auto _ : state) s = recurrent::wkv7_recurrent(in.r, in.w, in.k, in.v, in.a, in.b, s).final_state;
  memory.report(state);
  tokens_per_second(state, 1);
  roofline.report(state, with_state_read(bench::costs::wkv7(1, kRwkvHeads, kRwkvHead), s));
}

void BM_wkv4_prefill(benchmark::State& state) {
  const PeakMemory memory;
  const std::int64_t L = state.range(0), C = kRwkvHeads * kRwkvHead;
  const Tensor decay = uniform({C}, -3, 1, 1), first = uniform({C}, -1, 1, 2), k = uniform({1, L, C}, -5, 5, 3),
               v = uniform({1, L, C}, -1, 1, 4);
  prefill_benchmark(
      state, memory, L, [&] { return recurrent::wkv4(decay, first, k, v).out; }, bench::costs::wkv4(L, C));
}

void BM_wkv4_decode(benchmark::State& state) {
  const PeakMemory memory;
  const std::int64_t C = kRwkvHeads * kRwkvHead;
  const Tensor decay = uniform({C}, -3, 1, 1), first = uniform({C}, -1, 1, 2), k = uniform({1, 1, C}, -5, 5, 3),
               v = uniform({1, 1, C}, -1, 1, 4);
  recurrent::Wkv4State s = recurrent::wkv4(decay, first, k, v).final_state;
  const bench::RooflineReport roofline(Device::cpu());
  for (auto _ : state) s = recurrent::wkv4(decay, first, k, v, {s}).final_state;
  memory.report(state);
  tokens_per_second(state, 1);
  roofline.report(state, with_state_read(bench::costs::wkv4(1, C), s.num, 3));
}

constexpr std::int64_t kRetentionHeads = 8, kRetentionKey = 256, kRetentionValue = 512;

void BM_retention_prefill(benchmark::State& state) {
  const PeakMemory memory;
  const std::int64_t L = state.range(0), H = kRetentionHeads, dk = kRetentionKey, dv = kRetentionValue;
  const Tensor q = uniform({1, L, H, dk}, -1, 1, 1), k = uniform({1, L, H, dk}, -1, 1, 2), v = uniform({1, L, H, dv}, -1, 1, 3);
  prefill_benchmark(
      state, memory, L, [&] { return recurrent::retention(q, k, v).o; }, bench::costs::retention(L, H, dk, dv));
}

void BM_retention_decode(benchmark::State& state) {
  const PeakMemory memory;
  const std::int64_t H = kRetentionHeads, dk = kRetentionKey, dv = kRetentionValue;
  const Tensor q = uniform({1, 1, H, dk}, -1, 1, 1), k = uniform({1, 1, H, dk}, -1, 1, 2), v = uniform({1, 1, H, dv}, -1, 1, 3);
  Tensor s = uniform({1, H, dv, dk}, -1, 1, 6);
  const bench::RooflineReport roofline(Device::cpu());
  for (auto _ : state) s = recurrent::retention(q, k, v, {s}).final_state;
  memory.report(state);
  tokens_per_second(state, 1);
  roofline.report(state, with_state_read(bench::costs::retention(1, H, dk, dv), s));
}

constexpr std::int64_t kAttentionHeads = 16, kAttentionHead = 128;

template <DeviceKind kDevice>
void BM_attention_prefill(benchmark::State& state) {
  const std::optional<Device> device = bench::device_or_skip(state, kDevice);
  if (!device) return;
  const PeakMemory memory;
  const std::int64_t L = state.range(0), H = kAttentionHeads, d = kAttentionHead;
  const Tensor q = uniform({1, L, H, d}, -1, 1, 1).to(*device), k = uniform({1, L, H, d}, -1, 1, 2).to(*device),
               v = uniform({1, L, H, d}, -1, 1, 3).to(*device);
  const bench::RooflineReport roofline(*device);
  for (auto _ : state) {
    benchmark::DoNotOptimize(attention::causal_attention(q, k, v, 0.088).raw_data());
    synchronize(*device);
  }
  memory.report(state);
  tokens_per_second(state, L);
  roofline.report(state, bench::costs::attention(L, 0, H, d));
}

// One new token for each of two sequences against their KV caches of L tokens, which it must
// read once. The keys and values are the first L steps of buffers with room for 2L, as the models'
// caches hold them.
template <DeviceKind kDevice>
void BM_attention_decode(benchmark::State& state) {
  const std::optional<Device> device = bench::device_or_skip(state, kDevice);
  if (!device) return;
  const PeakMemory memory;
  const std::int64_t L = state.range(0), H = kAttentionHeads, d = kAttentionHead, B = 2;
  const Tensor q = uniform({B, 1, H, d}, -1, 1, 1).to(*device);
  const Tensor k = uniform({B, 2 * L, H, d}, -1, 1, 2).to(*device).slice(1, 0, L),
               v = uniform({B, 2 * L, H, d}, -1, 1, 3).to(*device).slice(1, 0, L);
  const bench::RooflineReport roofline(*device);
  for (auto _ : state) {
    benchmark::DoNotOptimize(attention::causal_attention(q, k, v, 0.088).raw_data());
    synchronize(*device);
  }
  memory.report(state);
  tokens_per_second(state, B);
  bench::Cost cost = bench::costs::attention(1, L, H, d);
  cost.bytes *= B, cost.flops *= B, cost.exps *= B;
  roofline.report(state, cost);
}

void BM_fft_conv(benchmark::State& state) {
  const PeakMemory memory;
  const std::int64_t L = state.range(0), D = 864;
  const Tensor x = uniform({1, D, L}, -1, 1, 1), k = uniform({1, D, L}, -1, 1, 2);
  const bench::RooflineReport roofline(Device::cpu());
  for (auto _ : state) benchmark::DoNotOptimize(conv::fft_causal_conv(x, k).raw_data());
  memory.report(state);
  tokens_per_second(state, L);
  roofline.report(state, bench::costs::fft_conv(D, L));
}

// The float32 operator peaks at about 35 KiB per token at D = 864 (1.1 GiB at L = 32K, measured).
constexpr double kHyenaBytesPerToken = 35.0 * 1024;

void BM_hyena(benchmark::State& state) {
  const PeakMemory memory;
  const std::int64_t L = state.range(0), D = 864;
  const double needed = kHyenaBytesPerToken * double(L), available = double(available_memory_bytes());
  if (needed > 0.8 * available) {
    state.SkipWithError(fmt::format("needs about {:.0f} GiB, {:.0f} GiB available", needed / double(1 << 30),
                                    available / double(1 << 30)).c_str());
    return;
  }
  const conv::HyenaOperator op = bench::random_hyena(D, L);
  const Tensor u = uniform({1, L, D}, -1, 1, 1);
  const bench::RooflineReport roofline(Device::cpu());
  for (auto _ : state) benchmark::DoNotOptimize(op.forward(u).raw_data());
  memory.report(state);
  tokens_per_second(state, L);
  roofline.report(state, bench::costs::hyena(D, L));
}

void BM_linear_attention(benchmark::State& state) {
  const PeakMemory memory;
  const std::int64_t L = state.range(0), H = 16, d = 128;
  const Tensor q = uniform({1, L, H, d}, -1, 1, 1), k = uniform({1, L, H, d}, -1, 1, 2), v = uniform({1, L, H, d}, -1, 1, 3);
  recurrent::LinearAttentionOptions options;
  options.feature_map = recurrent::FeatureMap::Elu1;
  options.normalize = true;
  options.scale = 1 / std::sqrt(double(d));
  prefill_benchmark(
      state, memory, L, [&] { return recurrent::linear_attention(q, k, v, options).o; },
      bench::costs::linear_attention(L, H, d, d));
}

void BM_based(benchmark::State& state) {
  const PeakMemory memory;
  const std::int64_t L = state.range(0), H = 16, features = 16, dv = 128;
  const Tensor q = uniform({1, L, H, features}, -1, 1, 1), k = uniform({1, L, H, features}, -1, 1, 2),
               v = uniform({1, L, H, dv}, -1, 1, 3);
  const recurrent::BasedOptions options{0.25, true, 0};
  prefill_benchmark(
      state, memory, L, [&] { return recurrent::based(q, k, v, options); }, bench::costs::based(L, H, features, dv));
}

void BM_gla(benchmark::State& state) {
  const PeakMemory memory;
  const std::int64_t L = state.range(0), H = 4, dk = 256, dv = 512;
  const Tensor q = uniform({1, L, H, dk}, -1, 1, 1), k = uniform({1, L, H, dk}, -1, 1, 2), v = uniform({1, L, H, dv}, -1, 1, 3),
               gk = uniform({1, L, H, dk}, -0.1f, 0, 4);
  const recurrent::GlaOptions options{1 / std::sqrt(double(dk)), {}, 0};
  prefill_benchmark(
      state, memory, L, [&] { return recurrent::gla(q, k, v, gk, options).o; }, bench::costs::gla(L, H, dk, dv));
}

template <bool kGated>
void BM_delta_rule(benchmark::State& state) {
  const PeakMemory memory;
  const std::int64_t L = state.range(0), H = 16, d = 128;
  const Tensor q = uniform({1, L, H, d}, -1, 1, 1), k = uniform({1, L, H, d}, -1, 1, 2), v = uniform({1, L, H, d}, -1, 1, 3),
               beta = uniform({1, L, H}, 0, 1, 4);
  recurrent::DeltaRuleOptions options;
  options.scale = 1 / std::sqrt(double(d));
  options.l2_normalize = true;
  if (kGated) options.g = uniform({1, L, H}, -0.1f, 0, 5);
  prefill_benchmark(
      state, memory, L, [&] { return recurrent::delta_rule(q, k, v, beta, options).o; },
      bench::costs::delta_rule(L, H, d, d));
}

void BM_mlstm(benchmark::State& state) {
  const PeakMemory memory;
  const std::int64_t L = state.range(0), H = 8, dk = 256, dv = 512;
  const Tensor q = uniform({1, L, H, dk}, -1, 1, 1), k = uniform({1, L, H, dk}, -1, 1, 2), v = uniform({1, L, H, dv}, -1, 1, 3),
               i = uniform({1, L, H}, -3, 3, 4), f = uniform({1, L, H}, -3, 3, 5);
  prefill_benchmark(
      state, memory, L, [&] { return recurrent::mlstm(q, k, v, i, f).h; }, bench::costs::mlstm(L, H, dk, dv));
}

void BM_rglru(benchmark::State& state) {
  const PeakMemory memory;
  const std::int64_t L = state.range(0), D = 2560, heads = 10, block = D / heads;
  const recurrent::RgLru layer{uniform({D}, -2, 2, 1), uniform({heads, block, block}, -0.06f, 0.06f, 2),
                               uniform({heads, block}, -0.1f, 0.1f, 3), uniform({heads, block, block}, -0.06f, 0.06f, 4),
                               uniform({heads, block}, -0.1f, 0.1f, 5)};
  const Tensor x = uniform({1, L, D}, -1, 1, 6);
  prefill_benchmark(
      state, memory, L, [&] { return recurrent::rglru(layer, x).y; }, bench::costs::rglru(L, D, heads));
}

constexpr std::int64_t kWindow = 2048;

void BM_sliding_window_attention(benchmark::State& state) {
  const PeakMemory memory;
  const std::int64_t L = state.range(0), H = kAttentionHeads, d = kAttentionHead;
  const Tensor q = uniform({1, L, H, d}, -1, 1, 1), k = uniform({1, L, H, d}, -1, 1, 2), v = uniform({1, L, H, d}, -1, 1, 3);
  prefill_benchmark(
      state, memory, L, [&] { return attention::causal_attention(q, k, v, 0.088, kWindow); },
      bench::costs::sliding_window_attention(L, kWindow, H, d));
}

}  // namespace

BENCHMARK(BM_wkv6_prefill)
    ->Name("wkv6_prefill")
    ->ArgName("L")
    ->RangeMultiplier(4)
    ->Range(1024, 65536)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_wkv6_decode)->Name("wkv6_decode")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_wkv7_prefill<false>)
    ->Name("wkv7_prefill")
    ->ArgName("L")
    ->RangeMultiplier(4)
    ->Range(1024, 65536)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_wkv7_prefill<true>)
    ->Name("wkv7_prefill_chunked")
    ->ArgName("L")
    ->RangeMultiplier(4)
    ->Range(1024, 65536)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_wkv7_decode)->Name("wkv7_decode")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_wkv4_prefill)
    ->Name("wkv4_prefill")
    ->ArgName("L")
    ->RangeMultiplier(4)
    ->Range(1024, 65536)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_wkv4_decode)->Name("wkv4_decode")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_retention_prefill)
    ->Name("retention_prefill")
    ->ArgName("L")
    ->RangeMultiplier(4)
    ->Range(1024, 65536)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_retention_decode)->Name("retention_decode")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_attention_prefill, DeviceKind::CPU)
    ->Name("attention_prefill")
    ->ArgName("L")
    ->RangeMultiplier(4)
    ->Range(1024, 32768)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_attention_decode, DeviceKind::CPU)
    ->Name("attention_decode")
    ->ArgName("L")
    ->RangeMultiplier(4)
    ->Range(1024, 32768)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_attention_prefill, DeviceKind::CUDA)
    ->Name("attention_prefill_cuda")
    ->ArgName("L")
    ->RangeMultiplier(4)
    ->Range(1024, 32768)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_attention_decode, DeviceKind::CUDA)
    ->Name("attention_decode_cuda")
    ->ArgName("L")
    ->RangeMultiplier(4)
    ->Range(1024, 32768)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(BM_fft_conv)->Name("fft_conv")->ArgName("L")->RangeMultiplier(8)->Range(8192, 1 << 20)->Unit(benchmark::kMillisecond)->UseRealTime();

// To 1M where memory allows (1M needs some 36 GiB): longer runs are skipped with the reason.
BENCHMARK(BM_hyena)->Name("hyena")->ArgName("L")->RangeMultiplier(8)->Range(8192, 1 << 20)->Unit(benchmark::kMillisecond)->UseRealTime();

#define SUBQ_PREFILL_BENCHMARK(function, name, shortest, longest)                                              \
  BENCHMARK(function)->Name(name)->ArgName("L")->RangeMultiplier(4)->Range(shortest, longest)->Unit(benchmark::kMillisecond)->UseRealTime()
SUBQ_PREFILL_BENCHMARK(BM_linear_attention, "linear_attn_prefill", 1024, 16384);
SUBQ_PREFILL_BENCHMARK(BM_based, "based_prefill", 1024, 16384);
SUBQ_PREFILL_BENCHMARK(BM_gla, "gla_prefill", 1024, 16384);
SUBQ_PREFILL_BENCHMARK(BM_delta_rule<false>, "delta_rule_prefill", 1024, 16384);
SUBQ_PREFILL_BENCHMARK(BM_delta_rule<true>, "gated_delta_rule_prefill", 1024, 16384);
SUBQ_PREFILL_BENCHMARK(BM_mlstm, "mlstm_prefill", 1024, 16384);
SUBQ_PREFILL_BENCHMARK(BM_rglru, "rglru_prefill", 1024, 16384);
SUBQ_PREFILL_BENCHMARK(BM_sliding_window_attention, "swa_prefill", 4096, 32768);

int main(int argc, char** argv) { return bench::run_benchmarks(argc, argv); }
