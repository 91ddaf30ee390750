// Throughput of the SSM kernels at long lengths, against the bandwidth floor: each input read
// once and each output written once (float32).
//   selective_scan  Mamba shapes, CPU and CUDA: batch 1, D channels, N = 16, B/C shared; reads
//                   u, delta, z (D x L each) and B, C (N x L each), writes out (D x L).
//   ssd             Mamba-2 shapes, CPU and CUDA: batch 1, 64 heads of P = 64,
//                   N = 128, one group, chunks of 256; reads X (L x 64 x 64), A (L x 64),
//                   B, C (L x 128 each), writes Y.
#include <benchmark/benchmark.h>

#include <random>

#include "bench/bandwidth.hpp"
#include "bench/bench_device.hpp"
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
  for (auto _ : state) {
    benchmark::DoNotOptimize(ssm::selective_scan(u, delta, A, B, C, options).out.raw_data());
    synchronize(device);
  }
  state.SetItemsProcessed(state.iterations() * D * L * N);  // state updates
  bench::report_bandwidth(state, 4.0 * double(4 * D * L + 2 * N * L), device);
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
  ssm::SsdOptions options;
  options.chunk_length = device.is_cuda() ? 0 : 256;
  for (auto _ : state) {
    benchmark::DoNotOptimize(ssm::ssd(X, A, B, C, options).Y.raw_data());
    synchronize(device);
  }
  state.SetItemsProcessed(state.iterations() * L * H);
  bench::report_bandwidth(state, 4.0 * double(2 * L * H * P + L * H + 2 * L * N), device);
}

}  // namespace

// L to 256K, as far as a 23 GiB machine holds the inputs (u, delta, z and the output: 16 bytes
// per element): D 5120 stops at 64K. The longest take tens of seconds per call on 2 cores.
BENCHMARK_TEMPLATE(BM_selective_scan, DeviceKind::CPU)
    ->Name("selective_scan_cpu")
    ->ArgNames({"D", "L"})
    ->ArgsProduct({{2048}, {2048, 16384, 65536, 262144}})
    ->ArgsProduct({{5120}, {2048, 16384, 65536}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_selective_scan, DeviceKind::CUDA)
    ->Name("selective_scan_cuda")
    ->ArgNames({"D", "L"})
    ->ArgsProduct({{2048, 5120}, {2048, 16384, 65536, 262144}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_ssd, DeviceKind::CPU)
    ->Name("ssd_cpu")
    ->ArgNames({"L"})
    ->RangeMultiplier(8)
    ->Range(2048, 262144)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_ssd, DeviceKind::CUDA)
    ->Name("ssd_cuda")
    ->ArgNames({"L"})
    ->RangeMultiplier(8)
    ->Range(2048, 262144)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
