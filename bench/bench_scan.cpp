// Linear-recurrence throughput: sequential loop vs the parallel CPU scan vs the CUDA kernel, at
// L = 1K ... 1M for one long row and for 64 channels. Each scan reads a and b and writes h, so
// its traffic is 3 * elements * 4 bytes (float32), with one FMA per element: the roofline
// (bench/roofline.hpp, measured in the same run) is the copy bandwidth.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>

#include "bench/bench_device.hpp"
#include "bench/roofline_counters.hpp"
#include "core/device.hpp"
#include "scan/linear_recurrence.hpp"

using namespace subq;

namespace {

struct Inputs {
  Tensor a, b, h;  // h: the output buffer, reused so the allocator's page faults are not timed
};

Inputs make_inputs(std::int64_t channels, std::int64_t length, Device device) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> decay(0.9f, 0.999f), input(-1.0f, 1.0f);
  Tensor a = Tensor::empty({1, channels, length}, DType::F32), b = Tensor::empty({1, channels, length}, DType::F32);
  for (std::int64_t i = 0; i < a.numel(); ++i) a.data<float>()[i] = decay(rng), b.data<float>()[i] = input(rng);
  return {a.to(device), b.to(device), Tensor::zeros(a.shape(), DType::F32, device)};
}

void report(benchmark::State& state, const bench::RooflineReport& roofline, std::int64_t elements) {
  state.SetItemsProcessed(state.iterations() * elements);
  roofline.report(state, {double(elements) * 12.0, double(elements) * 2.0, 0});
}

template <bool kParallel>
void BM_scan_cpu(benchmark::State& state) {
  const std::int64_t channels = state.range(0), length = state.range(1);
  const Inputs in = make_inputs(channels, length, Device::cpu());
  const bench::RooflineReport roofline(Device::cpu());
  for (auto _ : state) {
    if constexpr (kParallel) {
      scan::linear_recurrence(in.a, in.b, {}, {scan::Direction::Forward, nullptr, 0, in.h});
    } else {  // the plain loop, one step at a time
      const float* a = in.a.data<float>();
      const float* b = in.b.data<float>();
      float* h = in.h.data<float>();
      for (std::int64_t c = 0; c < channels; ++c) {
        float state = 0;
        for (std::int64_t t = c * length; t < (c + 1) * length; ++t) h[t] = state = a[t] * state + b[t];
      }
      benchmark::ClobberMemory();
    }
  }
  report(state, roofline, channels * length);
}

void BM_scan_cuda(benchmark::State& state) {
  const std::optional<Device> found = bench::device_or_skip(state, DeviceKind::CUDA);
  if (!found) return;
  const Device gpu = *found;
  const std::int64_t channels = state.range(0), length = state.range(1);
  const Inputs in = make_inputs(channels, length, gpu);
  const bench::RooflineReport roofline(gpu);
  for (auto _ : state) {
    scan::linear_recurrence(in.a, in.b, {}, {scan::Direction::Forward, nullptr, 0, in.h});
    synchronize(gpu);
  }
  report(state, roofline, channels * length);
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"channels", "L"});
  for (std::int64_t channels : {1, 64})
    for (std::int64_t length : {1 << 10, 1 << 13, 1 << 16, 1 << 20}) b->Args({channels, length});
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

}  // namespace

BENCHMARK_TEMPLATE(BM_scan_cpu, false)->Name("scan_sequential")->Apply(shapes);
BENCHMARK_TEMPLATE(BM_scan_cpu, true)->Name("scan_parallel_cpu")->Apply(shapes);
BENCHMARK(BM_scan_cuda)->Name("scan_cuda")->Apply(shapes);

int main(int argc, char** argv) { return bench::run_benchmarks(argc, argv); }
