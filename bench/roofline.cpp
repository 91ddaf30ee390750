#include "bench/roofline.hpp"

#include <Eigen/Core>
#include <limits>
#include <vector>

#include "bench/copy_bandwidth.hpp"
#include "bench/timing.hpp"
#include "core/dense.hpp"
#include "core/thread_pool.hpp"

namespace subq::bench {

namespace {

// Square float32 products through linear(): 1024 on the CPU (large enough that Eigen's blocking
// reaches its steady rate, about 2 GFLOP a call), 4096 on CUDA (cuBLAS needs that many tiles to
// fill the GPU). The best of 10: on a shared VM a few calls run slow.
double gemm_rate(Device device) {
  const std::int64_t n = device.is_cpu() ? 1024 : 4096;
  const Tensor x = Tensor::zeros({n, n}, DType::F32, device), w = Tensor::zeros({n, n}, DType::F32, device);
  linear(x, w);  // warm-up: the pool's threads, the output's pages
  return 2.0 * double(n) * double(n) * double(n) / best_seconds(10, device, [&] { linear(x, w); });
}

// x <- exp(-x) over a block per thread that stays in L1 (4096 floats, 16 KiB), repeated: the
// iteration converges to 0.567..., so every value stays finite and in the exp's common range.
// Eigen's vectorised exp, compiled at the library's ISA.
double exp_rate() {
  constexpr std::int64_t kBlock = 4096, kPasses = 2000;
  ThreadPool& pool = ThreadPool::global();
  std::vector<Eigen::ArrayXf> blocks(std::size_t(pool.size()), Eigen::ArrayXf::Constant(kBlock, 0.5f));
  auto run = [&] {
    pool.parallel_for(pool.size(), [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t b = begin; b < end; ++b)
        for (std::int64_t pass = 0; pass < kPasses; ++pass) blocks[std::size_t(b)] = (-blocks[std::size_t(b)]).exp();
    });
  };
  run();
  const double s = best_seconds(3, Device::cpu(), run);
  // The results stay observable, so the compiler may not drop the loop.
  static volatile float sink;
  for (const auto& block : blocks) sink = sink + block(0);
  return double(pool.size()) * double(kBlock) * double(kPasses) / s;
}

}  // namespace

const Ceilings& ceilings(Device device) {
  static Ceilings cpu, gpu;
  Ceilings& cached = device.is_cpu() ? cpu : gpu;
  if (cached.copy_bytes > 0) return cached;
  cached.copy_bytes = copy_bandwidth(device);
  cached.gemm_flops = gemm_rate(device);
  cached.exps = device.is_cpu() ? exp_rate() : std::numeric_limits<double>::infinity();
  return cached;
}

Floor roofline_floor(const Cost& cost, const Ceilings& c) {
  Floor floor{cost.bytes / c.copy_bytes, "copy"};
  if (cost.flops / c.gemm_flops > floor.seconds) floor = {cost.flops / c.gemm_flops, "gemm"};
  if (cost.exps / c.exps > floor.seconds) floor = {cost.exps / c.exps, "exp"};
  return floor;
}

}  // namespace subq::bench
