// Throughput of the SSM kernels at long lengths (float32, batch 1), against the roofline
// (bench/roofline.hpp; the counts in bench/operator_costs.hpp). Each runs once untimed first: a
// first call's fresh pages are the allocator's cost, not the kernel's.
//   selective_scan  Mamba shapes, CPU and CUDA: D channels, N = 16, B/C shared, with the z gate,
//                   the D skip and softplus(delta + bias)
//   ssd             Mamba-2 shapes, CPU and CUDA: 64 heads of P = 64, N = 128, one group, the
//                   default chunks
//   causal_conv1d   the short convolution in front of both scans, with its bias and SiLU: D = 2048
//                   channels (d_inner of a d_model 1024 Mamba), width 4
#include <benchmark/benchmark.h>

#include <random>

#include "bench/bench_device.hpp"
#include "bench/operator_costs.hpp"
#include "bench/roofline_counters.hpp"
#include "conv/causal_conv1d.hpp"
#include "ssm/selective_scan.hpp"
#include "ssm/ssd.hpp"

using namespace subq;

namespace {

Tensor uniform(const Shape& shape, float lo, float hi, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(lo, hi);
  Tensor t = Tensor::empty(shape, DType::F32);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

template <DeviceKind kDevice>
void BM_selective_scan(benchmark::State& state) {
  const std::optional<Device> found = bench::device_or_skip(state, kDevice);
  if (!found) return;
  const Device device = *found;
  const std::int64_t D = state.range(0), L = state.range(1), N = 16;
  std::mt19937 rng(1);
  auto input = [&](const Shape& shape, float lo, float hi) { return uniform(shape, lo, hi, rng).to(device); };
  const Tensor u = input({1, D, L}, -1, 1), delta = input({1, D, L}, -4, 0), A = input({D, N}, -8, -1),
               B = input({1, N, L}, -1, 1), C = input({1, N, L}, -1, 1);
  ssm::SelectiveScanOptions options;
  options.z = input({1, D, L}, -1, 1);
  options.D = input({D}, -1, 1);
  options.delta_bias = input({D}, -1, 1);
  options.delta_softplus = true;
  auto run = [&] {
    benchmark::DoNotOptimize(ssm::selective_scan(u, delta, A, B, C, options).out.raw_data());
    synchronize(device);
  };
  run();  // warm-up
  const bench::RooflineReport roofline(device);
  for (auto _ : state) run();
  state.SetItemsProcessed(state.iterations() * L);
  roofline.report(state, bench::costs::selective_scan(D, L, N));
}

template <DeviceKind kDevice>
void BM_ssd(benchmark::State& state) {
  const std::optional<Device> found = bench::device_or_skip(state, kDevice);
  if (!found) return;
  const Device device = *found;
  const std::int64_t L = state.range(0), H = 64, P = 64, N = 128;
  std::mt19937 rng(2);
  auto input = [&](const Shape& shape, float lo, float hi) { return uniform(shape, lo, hi, rng).to(device); };
  const Tensor X = input({1, L, H, P}, -1, 1), A = input({1, L, H}, -0.1f, 0), B = input({1, L, 1, N}, -1, 1),
               C = input({1, L, 1, N}, -1, 1);
  const ssm::SsdOptions options;  // the default chunks of each device
  auto run = [&] {
    benchmark::DoNotOptimize(ssm::ssd(X, A, B, C, options).Y.raw_data());
    synchronize(device);
  };
  run();  // warm-up
  const bench::RooflineReport roofline(device);
  for (auto _ : state) run();
  state.SetItemsProcessed(state.iterations() * L);
  roofline.report(state, bench::costs::ssd(L, H, P, N));
}

template <DeviceKind kDevice>
void BM_causal_conv1d(benchmark::State& state) {
  const std::optional<Device> found = bench::device_or_skip(state, kDevice);
  if (!found) return;
  const Device device = *found;
  const std::int64_t L = state.range(0), D = 2048, width = 4;
  std::mt19937 rng(3);
  auto input = [&](const Shape& shape, float lo, float hi) { return uniform(shape, lo, hi, rng).to(device); };
  const Tensor x = input({1, D, L}, -1, 1), weight = input({D, width}, -0.5f, 0.5f), bias = input({D}, -0.5f, 0.5f);
  auto run = [&] {
    benchmark::DoNotOptimize(conv::causal_conv1d(x, weight, bias, Activation::Silu).out.raw_data());
    synchronize(device);
  };
  run();  // warm-up
  const bench::RooflineReport roofline(device);
  for (auto _ : state) run();
  state.SetItemsProcessed(state.iterations() * L);
  roofline.report(state, bench::costs::causal_conv1d(D, L, width));
}

}  // namespace

// L to 256K, as far as a 23 GiB machine holds the inputs (u, delta, z and the output: 16 bytes
// per element): D 5120 stops at 64K. The longest take tens of seconds per call on 2 cores.
BENCHMARK_TEMPLATE(BM_selective_scan, DeviceKind::CPU)
    ->Name("selective_scan_cpu")
    ->ArgNames({"D", "L"})
    ->ArgsProduct({{2048}, {1024, 4096, 16384, 65536, 262144}})
    ->ArgsProduct({{5120}, {4096, 16384, 65536}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_selective_scan, DeviceKind::CUDA)
    ->Name("selective_scan_cuda")
    ->ArgNames({"D", "L"})
    ->ArgsProduct({{2048, 5120}, {1024, 4096, 16384, 65536, 262144}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_ssd, DeviceKind::CPU)
    ->Name("ssd_cpu")
    ->ArgNames({"L"})
    ->RangeMultiplier(4)
    ->Range(1024, 262144)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_ssd, DeviceKind::CUDA)
    ->Name("ssd_cuda")
    ->ArgNames({"L"})
    ->RangeMultiplier(4)
    ->Range(1024, 262144)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_TEMPLATE(BM_causal_conv1d, DeviceKind::CPU)
    ->Name("causal_conv1d_cpu")
    ->ArgNames({"L"})
    ->RangeMultiplier(4)
    ->Range(1024, 262144)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_causal_conv1d, DeviceKind::CUDA)
    ->Name("causal_conv1d_cuda")
    ->ArgNames({"L"})
    ->RangeMultiplier(4)
    ->Range(1024, 262144)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

int main(int argc, char** argv) { return bench::run_benchmarks(argc, argv); }
